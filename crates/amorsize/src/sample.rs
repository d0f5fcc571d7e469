//! Measuring a workload: run the function on a spread sample of items and summarise it.
