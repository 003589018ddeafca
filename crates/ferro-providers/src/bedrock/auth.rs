//! Request credentials: SigV4 signing of a built request with the instance's
//! static keys (pure given the time), or nothing for a Bearer-key instance
//! (`AWS_BEARER_TOKEN_BEDROCK`, whose header the instance already carries).

use super::{extra, region, sigv4, SERVICE};
use crate::instance::ProviderInstance;
use crate::native::NativeRequest;
use http::{HeaderName, HeaderValue};

fn header(name: &'static str, value: &str) -> Result<(HeaderName, HeaderValue), String> {
    let mut v = HeaderValue::from_str(value).map_err(|_| format!("unusable {name} header"))?;
    if name == "authorization" || name == "x-amz-security-token" {
        v.set_sensitive(true);
    }
    Ok((HeaderName::from_static(name), v))
}

/// Signs `req` with the instance's SigV4 credentials at Unix time `time`
/// (nothing to do for a bearer-token instance).
pub fn sign(inst: &ProviderInstance, req: &mut NativeRequest, time: u64) -> Result<(), String> {
    if inst
        .headers
        .iter()
        .any(|(k, _)| k == http::header::AUTHORIZATION)
    {
        return Ok(());
    }
    let (Some(id), Some(secret)) = (
        extra(inst, "aws_access_key_id"),
        extra(inst, "aws_secret_access_key"),
    ) else {
        return Err("bedrock has no credentials".into());
    };
    let creds = sigv4::Credentials {
        access_key_id: id,
        secret_access_key: secret,
        session_token: extra(inst, "aws_session_token"),
    };
    let hs: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let sig = sigv4::sign(
        &sigv4::Request {
            method: req.method.as_str(),
            url: &req.url,
            headers: &hs,
            payload: &req.body,
        },
        &creds,
        &sigv4::Scope {
            region: region(inst),
            service: SERVICE,
            time,
        },
    )?;
    for (k, v) in sigv4::headers(&sig, &creds) {
        req.headers.push(header(k, &v)?);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::native::NativeAdapter;

    fn spec() -> &'static crate::spec::ProviderSpec {
        crate::spec::find("bedrock").unwrap()
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn sigv4_signing_of_a_request() {
        let e = env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            ),
            ("AWS_SESSION_TOKEN", "token"),
        ]);
        let inst = ProviderInstance::build(
            spec(),
            super::super::Bedrock.settings_from_env(spec(), &e).unwrap(),
        )
        .unwrap();
        let mut req = super::super::json_request(
            format!("{}/model/m/converse", inst.root),
            "application/json",
            b"{}".to_vec(),
        );
        sign(&inst, &mut req, 1_440_938_160).unwrap();
        let get = |n: &str| {
            req.headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("x-amz-date").unwrap(), "20150830T123600Z");
        assert_eq!(get("x-amz-security-token").unwrap(), "token");
        let auth = get("authorization").unwrap();
        assert!(auth.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, \
             SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature="
        ));
        assert!(req
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v.is_sensitive()));
    }
}
