"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Kept true by tests/web/test_api_openapi.py: every route of the API blueprint is described
here and every path here is a route, and real responses validate against these schemas.
"""

from __future__ import annotations

from typing import Any

_NULLABLE_STRING = {"type": ["string", "null"]}
_TIME = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "ISO 8601 with the office's offset (+07:00).",
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["status", "message"],
                "properties": {
                    "status": {"type": "integer"},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "TicketSummary": {
        "type": "object",
        "required": ["number", "status", "kind", "caller", "created_at", "overdue", "url"],
        "properties": {
            "number": {"type": "string", "description": "The ticket number read to the caller."},
            "status": {"$ref": "#/components/schemas/Status"},
            "kind": {"type": "string", "enum": ["message", "missed_call"]},
            "caller": {"type": "string", "description": "Caller ID, E.164 when known."},
            "business_name": _NULLABLE_STRING,
            "topic": {**_NULLABLE_STRING, "description": "Topic code."},
            "department": {**_NULLABLE_STRING, "description": "Department code."},
            "area": {**_NULLABLE_STRING, "description": "Area name."},
            "created_at": _TIME,
            "callback_due_at": _TIME,
            "overdue": {"type": "boolean"},
            "owner": {**_NULLABLE_STRING, "description": "E-mail of the officer who has it."},
            "url": {"type": "string", "format": "uri"},
        },
    },
    "TicketList": {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/components/schemas/TicketSummary"}},
            "page": {"type": "integer", "minimum": 1},
            "per_page": {"type": "integer", "minimum": 1, "maximum": 100},
            "total": {"type": "integer", "minimum": 0},
            "pages": {"type": "integer", "minimum": 1},
        },
    },
    "Status": {
        "type": "string",
        "enum": ["in_call", "open", "follow_up", "resolved", "unreachable"],
    },
    "Segment": {
        "type": "object",
        "required": ["start", "end", "text", "low_confidence"],
        "properties": {
            "start": {"type": ["number", "null"], "description": "Seconds from the start."},
            "end": {"type": ["number", "null"]},
            "text": {"type": ["string", "null"]},
            "avg_logprob": {"type": ["number", "null"]},
            "no_speech_prob": {"type": ["number", "null"]},
            "low_confidence": {"type": "boolean"},
        },
    },
    "Transcript": {
        "type": "object",
        "required": ["text", "machine_text", "corrected", "language", "confidence", "segments"],
        "properties": {
            "text": {"type": "string", "description": "The officer's correction if any."},
            "machine_text": {"type": "string"},
            "corrected": {"type": "boolean"},
            "language": {"type": "string"},
            "engine": {"type": "string"},
            "model": {"type": "string"},
            "confidence": {"type": "string", "enum": ["high", "medium", "low", "no_speech"]},
            "no_speech": {"type": "boolean"},
            "processing_s": {"type": "number"},
            "segments": {"type": "array", "items": {"$ref": "#/components/schemas/Segment"}},
        },
    },
    "Recording": {
        "type": "object",
        "required": ["sid", "state"],
        "properties": {
            "sid": {"type": "string"},
            "state": {
                "type": "string",
                "enum": [
                    "pending",
                    "downloading",
                    "stored",
                    "transcribing",
                    "transcribed",
                    "failed",
                ],
            },
            "error": _NULLABLE_STRING,
            "duration_s": {"type": ["number", "null"]},
            "sha256": _NULLABLE_STRING,
        },
    },
    "Attempt": {
        "type": "object",
        "required": ["at", "outcome"],
        "properties": {
            "at": _TIME,
            "outcome": {
                "type": "string",
                "enum": [
                    "reached_resolved",
                    "reached_follow_up",
                    "no_answer",
                    "busy",
                    "wrong_number",
                    "left_message",
                    "in_progress",
                ],
            },
            "note": {"type": "string"},
            "by": {**_NULLABLE_STRING, "description": "E-mail of the person who called."},
            "number_dialled": _NULLABLE_STRING,
            "answered": {
                "type": ["boolean", "null"],
                "description": "Click-to-call: whether the caller picked up.",
            },
            "duration_s": {"type": ["integer", "null"]},
            "twilio_status": _NULLABLE_STRING,
        },
    },
    "EarlierTicket": {
        "type": "object",
        "required": ["number", "at", "status"],
        "properties": {
            "number": {"type": "string"},
            "at": _TIME,
            "status": {"$ref": "#/components/schemas/Status"},
            "topic": _NULLABLE_STRING,
        },
    },
    "Ticket": {
        "type": "object",
        "required": ["number", "status", "kind", "caller", "created_at", "attempts", "links"],
        "properties": {
            "number": {"type": "string"},
            "status": {"$ref": "#/components/schemas/Status"},
            "kind": {"type": "string", "enum": ["message", "missed_call"]},
            "language": {"type": "string", "enum": ["vi", "en"]},
            "caller": {"type": "string"},
            "callback_number": _NULLABLE_STRING,
            "topic": _NULLABLE_STRING,
            "topic_name": _NULLABLE_STRING,
            "department": _NULLABLE_STRING,
            "department_name": _NULLABLE_STRING,
            "area": _NULLABLE_STRING,
            "area_code": _NULLABLE_STRING,
            "created_at": _TIME,
            "callback_due_at": _TIME,
            "next_attempt_at": _TIME,
            "first_callback_at": _TIME,
            "overdue": {"type": "boolean"},
            "owner": {**_NULLABLE_STRING, "description": "E-mail of the officer who has it."},
            "owner_name": _NULLABLE_STRING,
            "routing_reason": {"type": "string"},
            "suggestion": {
                "type": ["object", "null"],
                "description": "Another topic the transcript points to (the keypad choice "
                "stays until an officer accepts it).",
                "properties": {
                    "topic": {"type": "string"},
                    "topic_name": {"type": "string"},
                    "department": _NULLABLE_STRING,
                    "reason": _NULLABLE_STRING,
                },
            },
            "resolved_at": _TIME,
            "resolution_note": _NULLABLE_STRING,
            "recording": {"oneOf": [{"$ref": "#/components/schemas/Recording"}, {"type": "null"}]},
            "transcript": {
                "oneOf": [{"$ref": "#/components/schemas/Transcript"}, {"type": "null"}]
            },
            "attempts": {"type": "array", "items": {"$ref": "#/components/schemas/Attempt"}},
            "earlier_tickets": {
                "type": "array",
                "description": "The caller's earlier tickets that the token's user may see.",
                "items": {"$ref": "#/components/schemas/EarlierTicket"},
            },
            "links": {
                "type": "object",
                "required": ["self", "recording", "page"],
                "properties": {
                    "self": {"type": "string", "format": "uri"},
                    "recording": {"type": ["string", "null"], "format": "uri"},
                    "page": {"type": "string", "format": "uri"},
                },
            },
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_NUMBER_PARAM = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "The ticket number (digits, as read to the caller).",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


PATHS: dict[str, Any] = {
    "/tickets": {
        "get": {
            "operationId": "listTickets",
            "summary": "List tickets, newest first",
            "description": "Only tickets of the token holder's departments (all for "
            "supervisors and admins).",
            "parameters": [
                _query(
                    "q",
                    "Search transcripts, numbers, business names and notes; "
                    "diacritics are optional (thue finds thuế).",
                    {"type": "string"},
                ),
                _query("status", "Ticket status.", {"$ref": "#/components/schemas/Status"}),
                _query("department", "Department code or id.", {"type": "string"}),
                _query("topic", "Topic code or id.", {"type": "string"}),
                _query("area", "Area code or id.", {"type": "string"}),
                _query(
                    "overdue", "Only tickets past their callback due time.", {"type": "boolean"}
                ),
                _query(
                    "from",
                    "Called on or after this local day (YYYY-MM-DD).",
                    {"type": "string", "format": "date"},
                ),
                _query(
                    "to",
                    "Called on or before this local day (YYYY-MM-DD).",
                    {"type": "string", "format": "date"},
                ),
                _query("page", "Page number, from 1.", {"type": "integer", "minimum": 1}),
                _query(
                    "per_page",
                    "Tickets per page (default 20).",
                    {"type": "integer", "minimum": 1, "maximum": 100},
                ),
            ],
            "responses": {
                "200": _json("A page of tickets.", "TicketList"),
                "400": _error("A filter or paging value is not valid."),
                "401": _error("Missing or wrong bearer token."),
            },
        }
    },
    "/tickets/{number}": {
        "get": {
            "operationId": "getTicket",
            "summary": "One ticket with its transcript segments and callback attempts",
            "parameters": [_NUMBER_PARAM],
            "responses": {
                "200": _json("The ticket.", "Ticket"),
                "401": _error("Missing or wrong bearer token."),
                "404": _error("No such ticket, or it belongs to another department."),
            },
        }
    },
    "/tickets/{number}/recording": {
        "get": {
            "operationId": "getTicketRecording",
            "summary": "The caller's recorded message (audio); supports HTTP Range",
            "parameters": [_NUMBER_PARAM],
            "responses": {
                "200": {
                    "description": "The audio file.",
                    "content": {
                        "audio/wav": {"schema": {"type": "string", "format": "binary"}},
                        "audio/mpeg": {"schema": {"type": "string", "format": "binary"}},
                    },
                },
                "206": {"description": "Part of the audio file (Range request)."},
                "401": _error("Missing or wrong bearer token."),
                "404": _error("No such ticket, another department's, or no stored recording."),
            },
        }
    },
    "/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": [],
            "responses": {
                "200": {
                    "description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
}


def openapi_document(*, server_url: str) -> dict[str, Any]:
    """Return the OpenAPI document; `server_url` is this server's /api/v1 address."""
    base = server_url.rsplit("/tickets", 1)[0]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Business hotline API",
            "version": "1.0.0",
            "description": "Tickets of the Bắc Ninh business hotline: calls, transcripts and "
            "callbacks. Authenticate with `Authorization: Bearer <token>`; a user gets a "
            "token with `hotline users token EMAIL`. Errors are JSON "
            '({"error": {"status", "message"}}).',
        },
        "servers": [{"url": base}],
        "security": [{"bearerAuth": []}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }
