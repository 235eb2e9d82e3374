//! Where webhooks may go: the destination policy of `msgpool.settings` (`outbound_deny`,
//! `outbound_allow`), applied to every address a webhook's host resolves to, after DNS
//! resolution and before any connection (so a name that resolves to the cloud's metadata
//! address is refused, however it is spelled), and to a URL that names an address itself.
//! Internal webhooks on private networks are a back office's own, and allowed by default.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use msgpool::Db;
use tokio_util::sync::CancellationToken;

/// How often a worker reads the policy again.
const REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct Policy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

/// An address the policy refuses, and why: a webhook to it is refused before any connection.
#[derive(Debug, Clone)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

impl Policy {
    /// The policy as settings write it (CIDR text); a network this build cannot read is
    /// left out, and said.
    pub fn from_settings(deny: &[String], allow: &[String]) -> Policy {
        let read = |nets: &[String]| {
            nets.iter()
                .filter_map(|n| match n.parse::<IpNet>().or_else(|_| n.parse::<IpAddr>().map(IpNet::from)) {
                    Ok(net) => Some(net),
                    Err(e) => {
                        tracing::warn!(network = %n, error = %e, "cannot read a network of the destination policy");
                        None
                    }
                })
                .collect()
        };
        Policy {
            deny: read(deny),
            allow: read(allow),
        }
    }

    /// Whether a webhook may reach `ip`: not in a denied network, unless an allowed one
    /// names it.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match self.deny.iter().find(|net| net.contains(&ip)) {
            Some(net) if !self.allow.iter().any(|a| a.contains(&ip)) => Err(Refused(format!(
                "the destination policy refuses {ip} (in {net}, msgpool.settings.outbound_deny); an administrator may allow it in outbound_allow"
            ))),
            _ => Ok(()),
        }
    }
}

/// The policy every webhook send reads, kept current from the database.
#[derive(Debug, Clone)]
pub struct Outbound(Arc<RwLock<Policy>>);

impl Outbound {
    pub fn new(policy: Policy) -> Outbound {
        Outbound(Arc::new(RwLock::new(policy)))
    }

    pub fn policy(&self) -> Policy {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the policy now, then every [`REFRESH`] until `stop`; a failed read keeps the one
    /// it has (the settings' defaults until the first read).
    pub async fn keep_current(self, pool: Db, stop: CancellationToken) {
        loop {
            match sqlx::query_as::<_, (Vec<String>, Vec<String>)>(
                "SELECT deny, allow FROM msgpool.outbound_policy()",
            )
            .fetch_one(&pool)
            .await
            {
                Ok((deny, allow)) => {
                    *self.0.write().unwrap_or_else(|e| e.into_inner()) =
                        Policy::from_settings(&deny, &allow)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the destination policy; keeping the last one")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(REFRESH) => {}
                _ = stop.cancelled() => return,
            }
        }
    }
}

/// The policy before the first read: what `msgpool.settings` holds by default.
pub fn default_policy() -> Policy {
    Policy::from_settings(
        &[
            "169.254.0.0/16".into(),
            "fe80::/10".into(),
            "100.100.100.200/32".into(),
            "fd00:ec2::254/128".into(),
            "0.0.0.0/8".into(),
            "::/128".into(),
        ],
        &[],
    )
}

/// reqwest's resolver for webhooks: the system's, with the policy's refused addresses
/// taken out; a name left with none fails with [`Refused`].
pub struct Resolver(pub Outbound);

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.policy();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(why) => {
                        refused = Some(why);
                        false
                    }
                })
                .collect();
            if allowed.is_empty()
                && let Some(why) = refused
            {
                return Err(Box::new(Refused(format!("{host}: {why}")))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The policy's refusal in an error's chain, if that is why it failed.
pub fn refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return Some(refused.0.clone());
        }
        cause = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_refuses_the_metadata_address_and_allows_private_networks() {
        let policy = default_policy();
        let refused = policy
            .check("169.254.169.254".parse().expect("an address"))
            .expect_err("the cloud's metadata address");
        assert!(refused.0.contains("169.254.0.0/16"), "{refused}");
        assert!(
            policy
                .check("100.100.100.200".parse().expect("ip"))
                .is_err()
        );
        assert!(
            policy
                .check("::ffff:169.254.169.254".parse().expect("ip"))
                .is_err(),
            "mapped too"
        );
        assert!(policy.check("0.0.0.0".parse().expect("ip")).is_err());
        for allowed in [
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.5",
            "127.0.0.1",
            "93.184.216.34",
        ] {
            assert!(
                policy.check(allowed.parse().expect("ip")).is_ok(),
                "{allowed}"
            );
        }
    }

    #[test]
    fn an_allowed_network_opens_a_hole_in_a_denied_one() {
        let policy = Policy::from_settings(&["10.0.0.0/8".into()], &["10.9.0.0/16".into()]);
        assert!(policy.check("10.1.0.1".parse().expect("ip")).is_err());
        assert!(policy.check("10.9.0.1".parse().expect("ip")).is_ok());
    }
}
