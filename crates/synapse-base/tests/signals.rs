//! SIGTERM and SIGINT tear down a base that asked for it. One test per signal kind, each in
//! this binary's own process, so the signals reach no other test.

use std::time::Duration;

use synapse_base::Base;

#[tokio::test]
async fn sigterm_and_sigint_tear_the_base_down() {
    for signal in ["-TERM", "-INT"] {
        let base = Base::new();
        base.fini_on_signals().unwrap();
        let status = std::process::Command::new("kill")
            .arg(signal)
            .arg(std::process::id().to_string())
            .status()
            .unwrap();
        assert!(status.success());
        assert!(
            base.wait_fini(Some(Duration::from_secs(10))).await,
            "{signal} tore the base down"
        );
    }
}
