//! The `amorsize` command.
fn main() {
    println!("amorsize");
}
