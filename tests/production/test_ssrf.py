"""Server-side request forgery: a signed webhook naming a recording URL off the allow-list.

Twilio signs whatever it sends, and the RecordingUrl is only a parameter: an attacker with a
leaked token, or a mistake, must not make the worker fetch from another host (and send it
Twilio's credentials). The message is still kept: the row exists and the ticket is in the queue.
"""

from __future__ import annotations

from typing import Any

import pytest

from storage.models import RecordingStatus

# --- server-side request forgery through a signed recording URL -----------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    # Production's allow-list: only Twilio's API host (the media server of these tests runs on
    # 127.0.0.1, which is therefore *not* allowed here).
    app_config["HOTLINE_RECORDING_HOSTS"] = "api.twilio.com"
    return app_config


FORGED_HOSTS = [
    "http://127.0.0.1:{port}/2010-04-01/Recordings/{sid}",
    "http://localhost:{port}/Recordings/{sid}",
    "http://[::1]:{port}/Recordings/{sid}",
    "http://2130706433:{port}/Recordings/{sid}",  # 127.0.0.1 as one number
    "https://api.twilio.com@127.0.0.1:{port}/Recordings/{sid}",  # user info, then the host
    "https://api.twilio.com.evil.example/Recordings/{sid}",
    "http://api.twilio.com/2010-04-01/Recordings/{sid}",  # the right host without TLS
    "https://169.254.169.254/latest/meta-data/{sid}",
]


@pytest.mark.parametrize("template", FORGED_HOSTS)
def test_a_signed_recording_url_off_the_allow_list_is_never_fetched(
    template: str, phone: Any, media: Any, wav: bytes, rows: Any, worker: Any
) -> None:
    sid = "RE" + "9" * 32
    media.script(sid, media.reply(wav))
    url = template.format(port=media.base_url.rsplit(":", 1)[1], sid=sid)
    call_sid, _ = phone.leave_message(url)
    recording = rows.recording(sid)  # the message is kept: the row is the proof it existed
    worker()
    assert media.hits == []
    failed = rows.recording(sid)
    assert failed.status == RecordingStatus.FAILED
    assert failed.error is not None
    assert failed.error.split(":", 1)[0] in ("download_host_not_allowed", "download_insecure")
    assert failed.audio_key is None
    assert rows.ticket_of_call(call_sid).id == recording.ticket_id
