//! hopwatch: the binary (work in progress).
fn main() {}
