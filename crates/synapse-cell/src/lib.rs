//! Cell: the batteries-included Synapse service.
//!
//! This crate will hold the cell directory, configuration, users/roles/rules auth, the telepath
//! Daemon and CellApi, the HTTPS API and the Boss that tracks tasks.
