//! The real-parts test harness.
