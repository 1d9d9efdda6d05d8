//! Integration tests of the Storm runtime: the conformance corpus replayed in process, and
//! data-driven cases of our own.

mod storm_rt {
    pub(crate) mod cases;
    pub(crate) mod cmds;
    pub(crate) mod conformance;
    pub(crate) mod flow;
    pub(crate) mod gaps;
    pub(crate) mod graph;
    pub(crate) mod libaudit;
    pub(crate) mod types;
    pub(crate) mod util;
}
