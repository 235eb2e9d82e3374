//! The apalis backend over msgpool's own tables: per channel, a stream of leased deliveries
//! from a [`ChannelQueue`]. Outcomes are written by msgpool's own batching writer
//! ([`crate::outcomes`]), not through apalis.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::task::task_id::RandomId;
use apalis_core::worker::context::WorkerContext;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use tower_layer::Identity;

use crate::claim::Claim;
use crate::queue::ChannelQueue;

/// The apalis [`Backend`]: a stream over a [`ChannelQueue`].
pub struct DeliveryBackend {
    stream: BoxStream<'static, Result<Task<Claim>, sqlx::Error>>,
}

impl DeliveryBackend {
    pub fn new(queue: Arc<ChannelQueue>) -> Self {
        let stream = futures_util::stream::unfold(queue, |queue| async move {
            let next = queue.next().await?;
            Some((next.map(Task::new), queue))
        });
        DeliveryBackend {
            stream: stream.boxed(),
        }
    }
}

impl Backend for DeliveryBackend {
    type Task = Task<Claim>;
    type Error = sqlx::Error;

    fn poll_ready(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        Pin::new(&mut self.stream).poll_next(cx)
    }

    fn poll_close(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for DeliveryBackend {
    type Args = Claim;
    type Id = RandomId;
    // Outcomes are written by msgpool's own batching writer, not through apalis.
    type Kind = Ephemeral;
    type Config = ();
    type Layer = Identity;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Self::Layer {
        Identity::new()
    }
}
