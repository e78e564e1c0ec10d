"""Play Twilio's part in a call against a running hotline (`hotline simulate-call`).

The simulator does what Twilio does for a real call: POSTs the signed webhooks, follows the
TwiML it gets back (Say/Play are "heard", Gather takes the next key, Redirect is followed,
Record sends the recording), serves the caller's audio as the recording over HTTP with Basic
auth (like Twilio's media URLs: the RecordingUrl has no extension and the worker appends
".wav"), and finally reports the end of the call. Only loopback or the given URL is contacted.
"""

from __future__ import annotations

import base64
import hmac
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from twilio.request_validator import RequestValidator

from ivr.prompts import heard_ticket_number

# Rough speaking rate of text to speech, to report a believable call duration.
_SECONDS_PER_WORD = 0.4
_MAX_DOCUMENTS = 50  # a loop guard: no real call follows this many TwiML documents
SKIP_KEY = "_"  # in --digits: say nothing at that menu

Echo = Callable[[str], None]


@dataclass
class Journey:
    """What happened during a simulated call."""

    call_sid: str
    heard: list[str] = field(default_factory=list)
    pressed: list[str] = field(default_factory=list)
    recording_sid: str | None = None
    recording_url: str | None = None
    seconds: float = 0.0
    ticket_number_heard: str | None = None
    statuses: dict[str, int] = field(default_factory=dict)


class RecordingServer:
    """Serve one audio file like Twilio's media URLs, on 127.0.0.1, with Basic auth.

    With an account SID configured, the request must carry Basic auth with that SID and the
    auth token, as Twilio's media URLs want. Without one (the demo's .env), the worker has no
    credentials to send (it authenticates only with both), so a request without credentials is
    served; credentials that are sent must still be right.
    """

    def __init__(
        self, audio: bytes, *, auth_token: str, account_sid: str = "", url_account_sid: str = ""
    ) -> None:
        self.audio = audio
        self.account_sid = account_sid
        self.url_account_sid = url_account_sid or account_sid or "AC" + "0" * 32
        self.auth_token = auth_token
        self.fetched = threading.Event()  # set once the whole file went out with a 200
        self.log: list[tuple[str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RecordingServer:
        handler = _handler_for(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the recording server is not running")
        return int(self._server.server_address[1])

    def url_for(self, recording_sid: str) -> str:
        """Return the RecordingUrl Twilio would send (no extension)."""
        return (
            f"http://127.0.0.1:{self.port}/2010-04-01/Accounts/{self.url_account_sid}"
            f"/Recordings/{recording_sid}"
        )

    def authorized(self, header: str | None) -> bool:
        if not header and not self.account_sid:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        user_ok = not self.account_sid or hmac.compare_digest(user, self.account_sid)
        return user_ok and hmac.compare_digest(password, self.auth_token)


def _handler_for(server: RecordingServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(body=True)

        def do_HEAD(self) -> None:
            self._answer(body=False)

        def _answer(self, *, body: bool) -> None:
            path = self.path.split("?", 1)[0]
            if not server.authorized(self.headers.get("Authorization")):
                self._status(401, {"WWW-Authenticate": 'Basic realm="Twilio API"'})
                return
            if "/Recordings/RE" not in path or not (path.endswith(".wav") or "." not in path):
                self._status(404, {})
                return
            self.send_response(200)
            self.send_header("Content-Type", "audio/x-wav")
            self.send_header("Content-Length", str(len(server.audio)))
            self.end_headers()
            server.log.append((path, 200))
            if body:
                self.wfile.write(server.audio)
                self.wfile.flush()
                server.fetched.set()

        def _status(self, code: int, headers: dict[str, str]) -> None:
            server.log.append((self.path, code))
            self.send_response(code)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the simulator prints its own journey

    return Handler


def audio_seconds(path: Path) -> float:
    """Return the length of a WAV file in seconds (10 s when it is not a WAV file).

    Reads the RIFF chunks itself: Python's `wave` refuses G.711 mu-law, the format Twilio
    records phone calls in (and the shared phone clips use).
    """
    try:
        data = path.read_bytes()
    except OSError:
        return 10.0
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return 10.0
    byte_rate = 0
    offset = 12
    while offset + 8 <= len(data):
        chunk = data[offset : offset + 4]
        size: int = struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        body = offset + 8
        if chunk == b"fmt " and size >= 12:
            byte_rate = int(struct.unpack("<I", data[body + 8 : body + 12])[0])
        elif chunk == b"data" and byte_rate:
            return min(size, len(data) - body) / float(byte_rate)
        offset = body + size + (size % 2)  # chunks are padded to an even length
    return 10.0


@dataclass
class CallSimulator:
    """Place one simulated call against the hotline at `base_url`."""

    base_url: str
    auth_token: str
    account_sid: str
    caller: str
    called: str
    digits: str = "1"
    hangup_during_recording: bool = False
    silence: bool = False
    recording_seconds: float = 10.0
    echo: Echo = print
    http: requests.Session = field(default_factory=requests.Session)
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        self.validator = RequestValidator(self.auth_token)
        # Never send loopback requests through a proxy from the environment.
        self.http.trust_env = False
        self._keys: Iterator[str] = iter(self.digits)
        self._ended = False

    def run(self, recordings: RecordingServer | None) -> Journey:
        """Place the call; return what the caller heard and did."""
        journey = Journey(call_sid="CA" + uuid.uuid4().hex)
        url = urljoin(self.base_url.rstrip("/") + "/", "ivr/incoming")
        self.echo(f"Calling {url} from {self.caller} (CallSid {journey.call_sid})")
        request: tuple[str, dict[str, str]] | None = (url, {})
        for _ in range(_MAX_DOCUMENTS):
            if request is None:
                break
            document = self._post(journey, *request)
            if document is None:
                break
            request = self._follow(journey, *document, recordings)
        if not self._ended:
            self._call_ended(journey)
        self.echo(f"Call over after about {round(journey.seconds)} s.")
        return journey

    # --- following TwiML -------------------------------------------------------------------------

    def _follow(
        self,
        journey: Journey,
        doc_url: str,
        root: ET.Element,
        recordings: RecordingServer | None,
    ) -> tuple[str, dict[str, str]] | None:
        """Run one TwiML document; return the next request to make (None: the call is over)."""
        for verb in root:
            if verb.tag in ("Say", "Play"):
                self._hear(journey, verb)
            elif verb.tag == "Pause":
                journey.seconds += float(verb.get("length", "1"))
            elif verb.tag == "Gather":
                for child in verb:
                    if child.tag in ("Say", "Play"):
                        self._hear(journey, child)
                key = next(self._keys, "")
                if key and key != SKIP_KEY:
                    journey.pressed.append(key)
                    self.echo(f"  caller presses {key}")
                    return urljoin(doc_url, verb.get("action", doc_url)), {"Digits": key}
                # Twilio falls through a Gather that got no key, to the next verb.
                journey.seconds += float(verb.get("timeout", "5"))
                self.echo("  caller says nothing")
            elif verb.tag == "Redirect":
                return urljoin(doc_url, (verb.text or doc_url).strip()), {}
            elif verb.tag == "Record":
                outcome = self._record(journey, doc_url, verb, recordings)
                if not isinstance(outcome, str):
                    return outcome
            elif verb.tag == "Hangup":
                self.echo("  (the hotline hangs up)")
                return None
            else:
                self.echo(f"  (ignoring <{verb.tag}>)")
        return None  # the end of a document without a next step ends the call

    def _hear(self, journey: Journey, verb: ET.Element) -> None:
        text = (verb.text or "").strip()
        if verb.tag == "Play":
            line = f"[recorded prompt {text}]"
        else:
            line = text
            journey.seconds += _SECONDS_PER_WORD * len(text.split())
            number = heard_ticket_number(text)
            if number:
                journey.ticket_number_heard = number
        journey.heard.append(line)
        self.echo(f"  hotline ({verb.get('language', '?')}): {line}")

    def _record(
        self,
        journey: Journey,
        doc_url: str,
        verb: ET.Element,
        recordings: RecordingServer | None,
    ) -> tuple[str, dict[str, str]] | str | None:
        """Act out <Record>: a request to make, None (hung up) or "continue" (nothing said)."""
        status_url = urljoin(doc_url, verb.get("recordingStatusCallback", ""))
        action_url = urljoin(doc_url, verb.get("action", doc_url))
        sid = "RE" + uuid.uuid4().hex
        journey.recording_sid = sid
        self.echo("  (beep)")
        if self.silence or recordings is None:
            journey.seconds += float(verb.get("timeout", "5"))
            self.echo("  caller says nothing; Twilio reports the recording absent")
            if self.hangup_during_recording:
                self._call_ended(journey)
            self._callback(journey, status_url, {"RecordingSid": sid, "RecordingStatus": "absent"})
            # Twilio skips the action when nothing was recorded and runs the next verb.
            return None if self.hangup_during_recording else "continue"
        url = recordings.url_for(sid)
        journey.recording_url = url
        journey.seconds += self.recording_seconds
        recording = {
            "RecordingSid": sid,
            "RecordingUrl": url,
            "RecordingDuration": str(round(self.recording_seconds)),
        }
        completed = {**recording, "RecordingStatus": "completed", "RecordingChannels": "1"}
        if self.hangup_during_recording:
            # Twilio reports the end of the call; the recording callback follows once the file
            # is processed. No record action is requested for a caller who is gone.
            self.echo(f"  caller speaks for {self.recording_seconds:.0f} s, then hangs up")
            self._call_ended(journey)
            self._callback(journey, status_url, completed)
            return None
        self.echo(f"  caller speaks for {self.recording_seconds:.0f} s, then presses #")
        self._callback(journey, status_url, completed)
        return action_url, {**recording, "Digits": "#"}

    # --- requests --------------------------------------------------------------------------------

    def _params(self, journey: Journey, extra: dict[str, str]) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": journey.call_sid,
            "CallStatus": "in-progress",
            "Direction": "inbound",
            "From": self.caller,
            "Caller": self.caller,
            "To": self.called,
            "Called": self.called,
            **extra,
        }

    def _send(self, url: str, params: dict[str, str]) -> requests.Response:
        signature = self.validator.compute_signature(url, params)
        return self.http.post(
            url,
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=self.timeout_s,
            allow_redirects=False,
        )

    def _post(
        self, journey: Journey, url: str, extra: dict[str, str]
    ) -> tuple[str, ET.Element] | None:
        response = self._send(url, self._params(journey, extra))
        path = url.split("?", 1)[0].rsplit("/", 1)[-1]
        journey.statuses[path] = response.status_code
        if response.status_code != 200:
            self.echo(f"  ! {url} answered HTTP {response.status_code}: {response.text[:200]}")
            return None
        try:
            return url, ET.fromstring(response.content)
        except ET.ParseError:
            self.echo(f"  ! {url} did not answer TwiML")
            return None

    def _callback(self, journey: Journey, url: str, extra: dict[str, str]) -> None:
        response = self._send(url, self._params(journey, extra))
        journey.statuses[url.rsplit("/", 1)[-1]] = response.status_code
        if response.status_code != 200:
            self.echo(f"  ! {url} answered HTTP {response.status_code}: {response.text[:200]}")

    def _call_ended(self, journey: Journey) -> None:
        url = urljoin(self.base_url.rstrip("/") + "/", "ivr/status")
        params = {"CallStatus": "completed", "CallDuration": str(round(journey.seconds))}
        self._callback(journey, url, params)
        self._ended = True
