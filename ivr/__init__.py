"""The Twilio voice edge: webhooks, the menu state machine, TwiML, prompts, signatures, SMS.

- `views`: the Flask blueprint "ivr" (the only module that reads requests); `signature`: the
  X-Twilio-Signature guard; `params`: Twilio's parameters, read and checked once.
- `services`: what the call does to the database (flush, never commit; idempotent on SIDs).
- `menu`, `prompts`, `twiml`: pure: the keypad state machine, every text the caller hears or
  reads, and the TwiML built from them.
- `telephony` (Protocol + Twilio REST), `fakes` (in memory), `jobs` (the confirmation SMS).
- `simulate`: plays Twilio's part for `hotline simulate-call`.
- `options`: the settings this package uses, built by the composition root.
"""
