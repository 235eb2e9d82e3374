//! Stopping on SIGTERM or Ctrl-C: the worker and the console finish what is in flight first.

use tokio_util::sync::CancellationToken;

/// Cancels `stop` on SIGTERM or Ctrl-C.
pub async fn on_signal(stop: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; stop with Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    stop.cancel();
}
