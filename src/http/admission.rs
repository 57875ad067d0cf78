//! The per-tenant cap on requests in flight (`TENANT_MAX_IN_FLIGHT`): a tenant that
//! floods gets 429 `RATE_LIMITED` beyond it, so it cannot take every worker, socket
//! and connection slot of the process from the other tenants.
//!
//! Only requests that passed slug and token get a count (an anonymous caller cannot
//! make one), and a tenant's count leaves the map when it returns to zero, so the map
//! holds at most the tenants with a request in flight right now.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use uuid::Uuid;

use crate::error::Error;

pub struct Admission {
    limit: usize,
    /// std `Mutex`: held for one map operation, never across an `.await`.
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// Requests refused with `RATE_LIMITED` (a shared handle: `/metrics` holds a clone).
    pub refused: Counter,
}

/// One admitted request; dropping it (the request finished, or was abandoned) frees
/// its place.
pub struct Admitted {
    tenant: Uuid,
    in_flight: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Admission {
    pub fn new(limit: usize) -> Self {
        Admission {
            limit: limit.max(1),
            in_flight: Arc::default(),
            refused: Counter::default(),
        }
    }

    /// A place for one more request of `tenant`, or `RATE_LIMITED` when it has its
    /// maximum in flight already.
    pub fn admit(&self, tenant: Uuid) -> Result<Admitted, Error> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        let count = in_flight.entry(tenant).or_insert(0);
        if *count >= self.limit {
            self.refused.inc();
            return Err(Error::RateLimited { limit: self.limit });
        }
        *count += 1;
        Ok(Admitted {
            tenant,
            in_flight: self.in_flight.clone(),
        })
    }

    /// Tenants with a request in flight (the size of the map).
    pub fn tenants_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = in_flight.get_mut(&self.tenant) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                in_flight.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_cap_and_the_map_empties() {
        let admission = Admission::new(2);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = admission.admit(a).ok();
        let second = admission.admit(a).ok();
        assert!(first.is_some() && second.is_some());
        assert!(matches!(admission.admit(a), Err(Error::RateLimited { limit: 2 })));
        let other = admission.admit(b).ok();
        assert!(other.is_some(), "another tenant is not affected");
        assert_eq!(admission.refused.get(), 1);
        drop(first);
        assert!(admission.admit(a).is_ok(), "a finished request frees its place");
        drop((second, other));
        assert_eq!(admission.tenants_in_flight(), 0, "no counts are kept at zero");
    }
}
