"""Audio to Vietnamese text: engines behind a Protocol, audio decoding, model resolution.

Imports only `storage` among the hotline's packages. Nothing here loads a model or opens a
connection at import time: engines are built by `transcription.engines.make_transcriber` and
load their weights on first use.
"""
