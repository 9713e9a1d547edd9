"""RFC 3161 timestamps: a trusted third party attests that a checkpoint existed at a time.

The request and the checks are rfc3161-client's (Trail of Bits); the transport is a plain HTTP
POST of `application/timestamp-query`. A token proves the digest it carries: it is checked
against the checkpoint's own bytes, and its signature against the authority's certificates
when the town gives them (TSA_CA_FILE).
"""

from __future__ import annotations

import hashlib
import http.client as http_client
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimeStampRequest,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

SHA256_OID = x509.ObjectIdentifier("2.16.840.1.101.3.4.2.1")
MAX_RESPONSE_BYTES = 64 * 1024
TIMEOUT_SECONDS = 15.0


class TimestampError(Exception):
    """The authority could not be reached or gave no valid token (never carries its URL)."""


@dataclass(frozen=True)
class TimestampAuthority:
    """Where to ask for timestamps, and the certificates their signatures must chain to."""

    url: str = field(repr=False)  # may carry credentials
    roots: tuple[x509.Certificate, ...] = ()

    def stamp(self, payload: bytes) -> bytes:
        """Ask for a timestamp of the payload's SHA-256; return the checked response (DER)."""
        request = (
            TimestampRequestBuilder()
            .data(payload)
            .hash_algorithm(HashAlgorithm.SHA256)
            .cert_request(cert_request=True)
            .build()
        )
        response = _parse(self._post(request.as_bytes()))
        _check_fresh(response, request, payload, self.roots)
        return response.as_bytes()

    def _post(self, body: bytes) -> bytes:
        # Messages name the failure, never the URL: it may carry credentials.
        try:
            http = urllib.request.Request(  # noqa: S310  (the URL is the town's own setting)
                self.url,
                data=body,
                headers={"Content-Type": "application/timestamp-query"},
                method="POST",
            )
            with urllib.request.urlopen(http, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                content = answer.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise TimestampError(f"the timestamping authority answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            reason = getattr(exc.reason, "strerror", None) or type(exc.reason).__name__
            raise TimestampError(f"the timestamping authority is unreachable ({reason})") from None
        except (OSError, http_client.HTTPException) as exc:
            raise TimestampError(
                f"the timestamping authority is unreachable ({type(exc).__name__})"
            ) from None
        except ValueError:
            raise TimestampError("TSA_URL is not a usable http(s) URL") from None
        if len(content) > MAX_RESPONSE_BYTES:
            raise TimestampError("the timestamping authority's answer is too large")
        return content


def load_roots(path: Path) -> tuple[x509.Certificate, ...]:
    """The authority's trusted certificates from a PEM bundle (TSA_CA_FILE)."""
    try:
        return tuple(x509.load_pem_x509_certificates(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise TimestampError(f"cannot read the TSA certificates {path}: {exc}") from None


def check_timestamp(
    response_der: bytes, payload: bytes, roots: tuple[x509.Certificate, ...] = ()
) -> datetime:
    """The time a stored token attests for this payload; TimestampError when it does not match.

    Without roots only the digest is checked (the token's signature cannot be judged).
    """
    response = _parse(response_der)
    _check_imprint(response, payload)
    if roots:
        _check_signature(response, payload, VerifierBuilder(), roots)
    return response.tst_info.gen_time


def _parse(content: bytes) -> TimeStampResponse:
    try:
        response = decode_timestamp_response(content)
    except ValueError:
        raise TimestampError("the timestamp is not an RFC 3161 response") from None
    if PKIStatus(response.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"the timestamping authority refused (status {response.status})")
    return response


def _check_fresh(
    response: TimeStampResponse,
    request: TimeStampRequest,
    payload: bytes,
    roots: tuple[x509.Certificate, ...],
) -> None:
    """A new token: it answers our request (nonce) about our payload, signed if roots given."""
    _check_imprint(response, payload)
    if response.tst_info.nonce != request.nonce:
        raise TimestampError("the timestamp answers another request (nonce)")
    if roots:
        _check_signature(response, payload, VerifierBuilder.from_request(request), roots)


def _check_imprint(response: TimeStampResponse, payload: bytes) -> None:
    imprint = response.tst_info.message_imprint
    if imprint.hash_algorithm != SHA256_OID:
        raise TimestampError("the timestamp is not over a SHA-256 digest")
    if imprint.message != hashlib.sha256(payload).digest():
        raise TimestampError("the timestamp is for another checkpoint (digest differs)")


def _check_signature(
    response: TimeStampResponse,
    payload: bytes,
    builder: VerifierBuilder,
    roots: tuple[x509.Certificate, ...],
) -> None:
    for root in roots:
        builder = builder.add_root_certificate(root)
    try:
        builder.build().verify_message(response, payload)
    except VerificationError as exc:
        raise TimestampError(f"the timestamp's signature does not verify: {exc}") from None
