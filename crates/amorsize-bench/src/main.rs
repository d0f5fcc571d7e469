//! The benchmark suite.
fn main() {
    println!("amorsize-bench");
}
