//! The threadpool model. Not written yet: this crate is a placeholder so that the
//! workspace builds; its binary says so and exits with status 1.
