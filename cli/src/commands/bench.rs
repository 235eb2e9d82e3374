//! `msgpool bench`: see `crate::bench`.

use clap::Args;

use crate::bench::{self, Plan};
use crate::{Context, output};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds each ingest measurement runs (in turns of one second)
    // Ingest-only runs of one build, 2 cores: the ratio ranged 0.70-0.74 in five at 10 s,
    // 0.72-0.75 in four at 30 s.
    #[arg(long, default_value_t = 30)]
    ingest_seconds: u64,
    /// Concurrent producer connections for the ingest measurement
    #[arg(long, default_value_t = 8)]
    ingest_clients: usize,
    /// Messages in the burn-down
    #[arg(long, default_value_t = 50_000)]
    burn_down: i64,
    /// Recipients of the fan-out message
    #[arg(long, default_value_t = 10_000)]
    fan_out: i64,
    /// Messages sent one at a time for the latency figures
    #[arg(long, default_value_t = 1_000)]
    latency_samples: usize,
    /// Old sent messages (with deliveries) under the repeated burn-down; 0 skips it
    #[arg(long, default_value_t = 1_000_000)]
    history: i64,
}

pub async fn run(_ctx: &Context, args: BenchArgs) -> anyhow::Result<()> {
    let plan = Plan {
        ingest_seconds: args.ingest_seconds,
        ingest_clients: args.ingest_clients,
        burn_down: args.burn_down,
        fan_out: args.fan_out,
        latency_samples: args.latency_samples,
        history: args.history,
    };
    let figures = bench::run(&plan).await?;
    output::json(&figures)
}
