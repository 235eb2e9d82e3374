//! `msgpool bench`: the harness is the `msgpool-bench` crate (bench/).

use clap::Args;
use msgpool_bench::{ConsolePlan, Plan, ProvidersPlan};

use crate::{Context, output};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Seconds each ingest measurement runs (in turns of one second); shorter runs let the
    /// ratio swing more from run to run
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
    /// Which scenarios to run: the pool's own (ingest, burn-down, fan-out, latency, history),
    /// the providers', the console's
    #[arg(long, value_delimiter = ',', default_value = "pool,providers,console")]
    scenarios: Vec<Scenario>,
    /// Deliveries per round of the providers scenario
    #[arg(long, default_value_t = 5_000)]
    provider_deliveries: i64,
    /// Milliseconds the providers scenario's endpoints take to answer
    #[arg(long, default_value_t = 100)]
    provider_latency_ms: u64,
    /// Messages of history under the console scenario (each with 3 deliveries)
    #[arg(long, default_value_t = 1_000_000)]
    console_messages: i64,
    /// Requests per page in the console scenario
    #[arg(long, default_value_t = 100)]
    console_samples: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Scenario {
    Pool,
    Providers,
    Console,
}

pub async fn run(_ctx: &Context, args: BenchArgs) -> anyhow::Result<()> {
    let plan = Plan {
        ingest_seconds: args.ingest_seconds,
        ingest_clients: args.ingest_clients,
        burn_down: args.burn_down,
        fan_out: args.fan_out,
        latency_samples: args.latency_samples,
        history: args.history,
        pool: args.scenarios.contains(&Scenario::Pool),
        providers: args
            .scenarios
            .contains(&Scenario::Providers)
            .then(|| ProvidersPlan {
                deliveries: args.provider_deliveries,
                latency: std::time::Duration::from_millis(args.provider_latency_ms),
            }),
        console: args
            .scenarios
            .contains(&Scenario::Console)
            .then_some(ConsolePlan {
                messages: args.console_messages,
                samples: args.console_samples.max(1),
            }),
        say: output::line,
    };
    let figures = msgpool_bench::run(&plan).await?;
    output::json(&figures)
}
