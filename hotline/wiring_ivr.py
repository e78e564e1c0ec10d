"""The phone line: telephony service, the IVR blueprint, and the SMS job."""

from __future__ import annotations

from flask import Flask

from hotline.config import Settings
from hotline.runtime import Runtime
from hotline.tasks import JobRegistry
from ivr.fakes import FakeTelephony
from ivr.jobs import send_confirmation_sms
from ivr.options import IvrOptions
from ivr.telephony import Telephony, TwilioTelephony
from ivr.views import bp


def ivr_options(settings: Settings) -> IvrOptions:
    """Return what the phone line needs from the settings."""
    return IvrOptions(
        auth_token=settings.twilio_auth_token,
        account_sid=settings.twilio_account_sid,
        phone_number=settings.twilio_phone_number,
        voice_vi=settings.voice_vi,
        voice_en=settings.voice_en,
        prompt_audio_url=settings.prompt_audio_url,
        menu_max_tries=settings.menu_max_tries,
        record_max_seconds=settings.record_max_seconds,
        missed_call_min_seconds=settings.missed_call_min_seconds,
        sms_confirmation=settings.sms_confirmation,
        timezone=settings.timezone,
        public_url=settings.public_url,
        default_sla_hours=settings.default_sla_hours,
    )


def build_telephony(settings: Settings) -> Telephony:
    """Return Twilio's REST API when an account is configured, else the in-memory fake."""
    if settings.twilio_configured:
        return TwilioTelephony(
            account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token,
            phone_number=settings.twilio_phone_number,
            api_url=settings.twilio_api_url,
        )
    return FakeTelephony()


def init_app(app: Flask, rt: Runtime) -> None:
    """Register the telephony service and the Twilio webhooks."""
    telephony = build_telephony(rt.settings)
    rt.services["telephony"] = telephony
    app.extensions["telephony"] = telephony
    app.extensions["ivr.options"] = ivr_options(rt.settings)
    app.register_blueprint(bp)


def register(registry: JobRegistry) -> None:
    """Register the confirmation SMS job ("send_sms", argument: the ticket id)."""
    rt = registry.rt

    def send_sms(ticket_id: int) -> str:
        return send_confirmation_sms(
            rt.sessions,
            ticket_id=ticket_id,
            telephony=rt.services["telephony"],
            tz_name=rt.settings.timezone,
            now=rt.clock(),
        )

    # Retries only reach transient failures (the job returns on the others); a minute apart
    # rides out a short outage without texting the caller long after the call.
    registry.task("send_sms", send_sms, retries=3, retry_delay=60)
