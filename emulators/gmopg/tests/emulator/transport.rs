//! The wire (§2) and its errors (§10.7).

use crate::support::*;

#[tokio::test]
async fn s2_3_replies_are_http_200_windows_31j_without_a_line_break() {
    let (_emu, client) = started().await;
    let ok = client.entry("wire-1", "AUTH", 1).await;
    let err = client.entry("wire-1", "AUTH", 1).await;
    for reply in [&ok, &err] {
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "text/plain;charset=Windows-31J");
        assert!(!reply.raw.ends_with(b"\n"));
    }
    assert_eq!(err.raw, b"ErrCode=E01&ErrInfo=E01040010");
}

#[tokio::test]
async fn s10_7_a_body_that_is_not_windows_31j_is_e00000010_never_a_crash() {
    let (emu, client) = started().await;
    for body in [
        &b"ShopID=%82&ShopPass=x"[..],
        b"OrderID=%ZZ",
        b"OrderID=%8",
        b"OrderID=\xff\xfe",
        b"ClientField1=%EF%BF%BD%FF",
    ] {
        let reply = client
            .try_raw(
                "EntryTran",
                body.to_vec(),
                Some("application/x-www-form-urlencoded"),
            )
            .await
            .unwrap();
        reply.assert_errors(&["E00000010"]);
        assert_eq!(reply.get("ErrCode"), Some("E00"));
    }
    assert!(emu.transactions().is_empty());
    // Still serving.
    client.entry("after-1", "AUTH", 1).await.assert_ok();
}

#[tokio::test]
async fn s10_7_wrong_method_content_type_or_api() {
    let (emu, client) = started().await;
    let get = client
        .http
        .get(format!("{}EntryTran.idPass", client.base))
        .send()
        .await
        .unwrap();
    assert_eq!(get.status().as_u16(), 200);
    assert_eq!(
        get.bytes().await.unwrap().as_ref(),
        b"ErrCode=E00&ErrInfo=E00000001"
    );
    let json = client
        .try_raw("EntryTran", b"{}".to_vec(), Some("application/json"))
        .await
        .unwrap();
    json.assert_errors(&["E00000003"]);
    let unknown = client.post("SaveMember", &[("ShopID", SHOP)]).await;
    unknown.assert_errors(&["E91099997"]);
    let elsewhere = client
        .http
        .post(format!("http://{}/other", emu.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status().as_u16(), 404);
    // No Content-Type at all is read as a form.
    let bare = client
        .try_raw(
            "EntryTran",
            encode_form(&[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "bare-1"),
                ("JobCd", "AUTH"),
                ("Amount", "1"),
            ]),
            None,
        )
        .await
        .unwrap();
    bare.assert_ok();
}

#[tokio::test]
async fn s2_2_repeated_keys_first_wins_and_empty_is_absent() {
    let (_emu, client) = started().await;
    let reply = client
        .post(
            "EntryTran",
            &[
                ("ShopID", SHOP),
                ("ShopPass", PASS),
                ("OrderID", "rep-1"),
                ("OrderID", "rep-2"),
                ("JobCd", "AUTH"),
                ("Amount", ""),
            ],
        )
        .await;
    reply.assert_errors(&["E01060001"]);
}

/// §10.7: whatever bytes arrive, every endpoint answers a GMO-PG reply (HTTP 200, `ErrCode` or
/// a success), and the emulator keeps serving.
#[tokio::test]
async fn s10_7_random_bodies_always_get_a_gmo_pg_reply() {
    let (_emu, client) = started().await;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let alphabet: &[u8] =
        b"=&%+0123456789ABCDEFabcdef-_ShopIDPassOrderJobCdAmountTokenAUTH\x82\xa0\x81\x60\xff";
    let apis = [
        "EntryTran",
        "ExecTran",
        "AlterTran",
        "ChangeTran",
        "SearchTrade",
    ];
    for _ in 0..300 {
        let len = (next() % 120) as usize;
        let mut body: Vec<u8> = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        if next() % 3 == 0 {
            body.extend_from_slice(format!("&ShopID={SHOP}&ShopPass={PASS}").as_bytes());
        }
        let api = apis[(next() % apis.len() as u64) as usize];
        let reply = client
            .try_raw(api, body.clone(), Some("application/x-www-form-urlencoded"))
            .await
            .unwrap_or_else(|e| panic!("{api} {body:?}: {e}"));
        assert_eq!(reply.status, 200, "{api} {body:?}");
        assert_eq!(reply.content_type, "text/plain;charset=Windows-31J");
        if reply.is_error() {
            assert_eq!(reply.codes().len(), reply.infos().len(), "{}", reply.text());
        }
    }
    client.entry("still-1", "AUTH", 1).await.assert_ok();
}
