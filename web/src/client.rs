//! Who is asking: the client's address (a trusted proxy's X-Forwarded-For names it), and the
//! console user a trusted proxy says signed in (single sign-on, e.g. oauth2-proxy).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use ipnet::IpNet;

/// A reverse proxy that signs people in (oauth2-proxy and the like): requests from its
/// addresses may name the console user in `header`; from anywhere else the header is
/// ignored.
#[derive(Debug, Clone)]
pub struct TrustedProxy {
    pub header: String,
    pub addresses: Vec<IpNet>,
}

impl TrustedProxy {
    pub fn trusts(&self, peer: IpAddr) -> bool {
        self.addresses.iter().any(|net| net.contains(&peer))
    }
}

/// The connection's peer, as `serve` records it (unknown in an in-process call).
pub fn peer(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip())
}

/// The client: the peer, or behind a trusted proxy the address it forwarded for.
pub fn address(parts: &Parts, proxy: Option<&TrustedProxy>) -> IpAddr {
    let peer = peer(parts);
    if proxy.is_some_and(|p| p.trusts(peer)) {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok());
        if let Some(client) = forwarded {
            return client;
        }
    }
    peer
}

/// The console user a trusted proxy names for this request, if it does.
pub fn signed_in_by_proxy(parts: &Parts, proxy: Option<&TrustedProxy>) -> Option<String> {
    let proxy = proxy?;
    if !proxy.trusts(peer(parts)) {
        return None;
    }
    let name = parts
        .headers
        .get(proxy.header.as_str())?
        .to_str()
        .ok()?
        .trim();
    Some(name.to_owned()).filter(|n| !n.is_empty())
}
