//! The effort estimate: a deliberately simple model, in person-days, that a team can argue with
//! and tune, not a prediction.
//!
//! - a base by fit: `good` 0.5 day (build, run, verify), `partial` 2 days (review the plan, fill
//!   what runtime evidence missed), `poor` 5 days (something blocks: devices, kernel modules, a
//!   GUI; a redesign or a VM may be the answer);
//! - 1 day per error-level finding (each is a blocker to resolve);
//! - 0.5 day per volume (data to migrate and keep in sync at cut-over);
//! - 0.25 day per secret (to move into the target's secret store).

use crate::plan::Fit;

pub struct Factors {
    pub fit: Fit,
    pub errors: usize,
    pub volumes: usize,
    pub secrets: usize,
}

pub fn estimate(f: &Factors) -> f64 {
    let base = match f.fit {
        Fit::Good => 0.5,
        Fit::Partial => 2.0,
        Fit::Poor => 5.0,
    };
    round(base + f.errors as f64 + 0.5 * f.volumes as f64 + 0.25 * f.secrets as f64)
}

/// To the quarter day: finer would be false precision.
pub fn round(days: f64) -> f64 {
    // `+ 0.0`: a sum over nothing is -0.0 (Rust's float `Sum` starts there), shown as "-0".
    (days * 4.0).round() / 4.0 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_apps_is_zero_days_not_minus_zero() {
        let none: f64 = std::iter::empty::<f64>().sum();
        assert_eq!(format!("{}", round(none)), "0");
    }

    #[test]
    fn the_model_adds_up() {
        let f = |fit, errors, volumes, secrets| {
            estimate(&Factors {
                fit,
                errors,
                volumes,
                secrets,
            })
        };
        assert_eq!(f(Fit::Good, 0, 0, 0), 0.5);
        assert_eq!(f(Fit::Good, 0, 1, 0), 1.0);
        assert_eq!(f(Fit::Partial, 1, 0, 1), 3.25);
        assert_eq!(f(Fit::Poor, 2, 2, 0), 8.0);
    }
}
