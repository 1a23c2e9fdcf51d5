//! The lab against the real plugins: each setup option reaches the instance it configures, and
//! a missing plugin is named.

use renkei_lab::{FregiSetup, Gateway, LabError, Linked, Plugins, SbpsSetup};
use renkei_sdk::OperationKind;
use std::time::Duration;

async fn plugins() -> Plugins {
    let dir = tokio::task::spawn_blocking(|| renkei_tests::plugin_dir().to_path_buf())
        .await
        .unwrap();
    Plugins::load(&dir, &Gateway::BOTH).unwrap()
}

#[tokio::test]
async fn the_sbps_request_window_reaches_the_instance() {
    let plugins = plugins().await;
    let sbps = Linked::sbps(&plugins, SbpsSetup::with_window(3, 500))
        .await
        .unwrap();
    assert_eq!(sbps.instance.name(), "sbps");
    assert_eq!(sbps.instance.request_expiry(), Some(Duration::from_secs(3)));
    assert_eq!(sbps.instance.clock_skew(), Duration::from_millis(500));
    assert!(
        sbps.instance
            .capabilities()
            .supports(OperationKind::Inquire)
    );
    sbps.emulator.shutdown().await;
}

#[tokio::test]
async fn fregi_without_inquiry_is_fregi_as_it_really_is() {
    let plugins = plugins().await;
    let with = Linked::fregi(&plugins, FregiSetup::default())
        .await
        .unwrap();
    let without = Linked::fregi(&plugins, FregiSetup::without_batch(false))
        .await
        .unwrap();
    assert!(
        with.instance
            .capabilities()
            .supports(OperationKind::Inquire)
    );
    assert!(
        !without
            .instance
            .capabilities()
            .supports(OperationKind::Inquire)
    );
    assert!(!without.values.iter().any(|(k, _)| *k == "inquiry_url"));
    assert!(
        without
            .values
            .iter()
            .any(|(k, v)| *k == "shop_id" && v == renkei_lab::FREGI_SHOP_ID)
    );
    with.emulator.shutdown().await;
    without.emulator.shutdown().await;
}

#[test]
fn a_directory_without_the_plugin_names_the_gateway() {
    let dir = std::env::temp_dir().join(format!("renkei-lab-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = Plugins::load(&dir, &[Gateway::Fregi])
        .err()
        .expect("no plugin to load");
    assert!(
        matches!(
            e,
            LabError::PluginMissing {
                gateway: "F-REGI",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().starts_with("no F-REGI plugin in "), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}
