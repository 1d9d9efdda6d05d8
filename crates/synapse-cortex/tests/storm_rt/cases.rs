//! Data-driven Storm cases of our own (expectations recorded from the reference).
