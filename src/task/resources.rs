//! Resource amounts in fixed point, and what a task or actor asks for.
//!
//! Amounts are counted in units of 1/10,000 so that fractional requests
//! (`num_cpus = 0.5`) add up exactly: two halves make one CPU, never
//! 0.9999999.

use std::collections::{BTreeMap, HashMap};

use crate::error::{Error, Result};

const UNITS: f64 = 10_000.0;

/// The largest amount of any resource, CPUs included: 10^12, so that every
/// amount in units, and any sum of a runtime's amounts, fits an `i64` with
/// room to spare.
pub(crate) const MAX_AMOUNT: u64 = 1_000_000_000_000;

pub(crate) fn to_units(amount: f64) -> Option<i64> {
    (0.0..=MAX_AMOUNT as f64)
        .contains(&amount)
        .then(|| (amount * UNITS).round() as i64)
}

/// An amount in units, as the `f64` a user wrote.
pub(crate) fn show(units: i64) -> f64 {
    units as f64 / UNITS
}

/// What one task (or actor) holds while it runs.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Demand {
    pub(crate) cpu: i64,
    /// (index into the runtime's custom resources, amount), sorted by index.
    pub(crate) custom: Vec<(usize, i64)>,
}

impl Demand {
    /// Whether `other` holds at least as much of everything.
    pub(crate) fn fits_in(&self, other: &Demand) -> bool {
        self.cpu <= other.cpu
            && self
                .custom
                .iter()
                .all(|&(i, a)| other.custom.iter().any(|&(j, b)| j == i && a <= b))
    }
}

/// The runtime's totals: CPUs and the custom resources of its config.
#[derive(Debug)]
pub(crate) struct Capacity {
    pub(crate) cpu: i64,
    pub(crate) names: Vec<String>,
    pub(crate) custom: Vec<i64>,
}

impl Capacity {
    /// The totals of a validated config (amounts at most [`MAX_AMOUNT`];
    /// see `Config::validate`).
    pub(crate) fn new(num_cpus: usize, resources: &BTreeMap<String, f64>) -> Capacity {
        let max_units = MAX_AMOUNT as i64 * UNITS as i64;
        Capacity {
            cpu: i64::try_from(num_cpus)
                .map_or(max_units, |n| n.saturating_mul(UNITS as i64))
                .min(max_units),
            names: resources.keys().cloned().collect(),
            custom: resources
                .values()
                .map(|&a| to_units(a).unwrap_or(max_units))
                .collect(),
        }
    }

    /// The totals as one demand.
    pub(crate) fn total(&self) -> Demand {
        Demand {
            cpu: self.cpu,
            custom: self.custom.iter().copied().enumerate().collect(),
        }
    }

    /// Checks a request against the totals: asking for more than the
    /// runtime has, or for an undeclared resource, is `Unschedulable`.
    pub(crate) fn demand(&self, task: &str, cpus: f64, custom: &[(String, f64)]) -> Result<Demand> {
        let unschedulable = |reason: String| Error::Unschedulable {
            task: task.to_string(),
            reason,
        };
        let cpu = to_units(cpus)
            .ok_or_else(|| unschedulable(format!("num_cpus = {cpus} is not a valid amount")))?;
        if cpu > self.cpu {
            return Err(unschedulable(format!(
                "asks for {cpus} CPUs, the runtime has {}",
                show(self.cpu)
            )));
        }
        let mut wanted = Vec::with_capacity(custom.len());
        for (name, amount) in custom {
            let units = to_units(*amount).ok_or_else(|| {
                unschedulable(format!(
                    "resource `{name}` = {amount} is not a valid amount"
                ))
            })?;
            let Some(index) = self.names.iter().position(|n| n == name) else {
                return Err(unschedulable(format!(
                    "asks for resource `{name}`, which the runtime does not have (declare it with \
                     `Config::resource(\"{name}\", amount)`)"
                )));
            };
            if units > self.custom[index] {
                return Err(unschedulable(format!(
                    "asks for {amount} `{name}`, the runtime has {}",
                    show(self.custom[index])
                )));
            }
            if units > 0 {
                wanted.push((index, units));
            }
        }
        wanted.sort_unstable();
        Ok(Demand {
            cpu,
            custom: wanted,
        })
    }
}

impl Capacity {
    /// The totals by name: `"CPU"` and each custom resource.
    pub(crate) fn report(&self) -> HashMap<String, f64> {
        self.named(self.cpu, &self.custom)
    }

    /// `cpu` and `custom` (amounts in units, in the order of the custom
    /// names) by name; a negative amount (CPUs oversubscribed for a while)
    /// shows as 0.
    pub(crate) fn named(&self, cpu: i64, custom: &[i64]) -> HashMap<String, f64> {
        let mut out = HashMap::with_capacity(1 + self.names.len());
        out.insert("CPU".to_string(), show(cpu.max(0)));
        for (name, &units) in self.names.iter().zip(custom) {
            out.insert(name.clone(), show(units.max(0)));
        }
        out
    }
}

/// What is free now; may go below zero while a task that lent its CPUs back
/// during a blocking `get` takes them again.
#[derive(Debug)]
pub(crate) struct Available {
    pub(crate) cpu: i64,
    pub(crate) custom: Vec<i64>,
}

impl Available {
    pub(crate) fn new(capacity: &Capacity) -> Available {
        Available {
            cpu: capacity.cpu,
            custom: capacity.custom.clone(),
        }
    }

    pub(crate) fn fits(&self, demand: &Demand) -> bool {
        demand.cpu <= self.cpu && demand.custom.iter().all(|&(i, a)| a <= self.custom[i])
    }

    pub(crate) fn take(&mut self, demand: &Demand) {
        self.cpu -= demand.cpu;
        for &(i, a) in &demand.custom {
            self.custom[i] -= a;
        }
    }

    pub(crate) fn give(&mut self, demand: &Demand) {
        self.cpu += demand.cpu;
        for &(i, a) in &demand.custom {
            self.custom[i] += a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_add_up_exactly() {
        let cap = Capacity::new(1, &BTreeMap::new());
        let third = cap.demand("t", 1.0 / 3.0, &[]).unwrap();
        let mut free = Available::new(&cap);
        for _ in 0..3 {
            assert!(free.fits(&third));
            free.take(&third);
        }
        assert!(!free.fits(&third));
        for _ in 0..3 {
            free.give(&third);
        }
        assert_eq!(free.cpu, cap.cpu);
    }

    #[test]
    fn requests_beyond_capacity_are_unschedulable() {
        let cap = Capacity::new(2, &BTreeMap::from([("gpu".to_string(), 1.0)]));
        assert!(matches!(
            cap.demand("t", 3.0, &[]),
            Err(Error::Unschedulable { .. })
        ));
        assert!(matches!(
            cap.demand("t", 1.0, &[("gpu".into(), 2.0)]),
            Err(Error::Unschedulable { .. })
        ));
        assert!(matches!(
            cap.demand("t", 1.0, &[("tpu".into(), 1.0)]),
            Err(Error::Unschedulable { .. })
        ));
        let ok = cap.demand("t", 0.5, &[("gpu".into(), 1.0)]).unwrap();
        assert_eq!(
            ok,
            Demand {
                cpu: 5_000,
                custom: vec![(0, 10_000)]
            }
        );
    }

    #[test]
    fn the_largest_amounts_are_counted_exactly_and_more_never_wraps() {
        let most = MAX_AMOUNT as f64;
        let cap = Capacity::new(
            MAX_AMOUNT as usize,
            &BTreeMap::from([("gpu".to_string(), most)]),
        );
        assert_eq!(cap.cpu, 10_000_000_000_000_000);
        assert_eq!(cap.custom, [10_000_000_000_000_000]);
        let all = cap.demand("t", most, &[("gpu".into(), most)]).unwrap();
        assert_eq!(
            all,
            Demand {
                cpu: 10_000_000_000_000_000,
                custom: vec![(0, 10_000_000_000_000_000)]
            }
        );
        let mut free = Available::new(&cap);
        free.take(&all);
        free.take(&all);
        assert_eq!(free.cpu, -10_000_000_000_000_000);
        // Beyond what a config may hold (refused at `init`): saturated at
        // the limit, never negative, never zero.
        let over = Capacity::new(usize::MAX, &BTreeMap::from([("gpu".to_string(), 1e300)]));
        assert_eq!(over.cpu, 10_000_000_000_000_000);
        assert_eq!(over.custom, [10_000_000_000_000_000]);
    }
}
