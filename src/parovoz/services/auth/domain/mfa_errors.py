"""The second factor's error codes (ru + en texts) and the errors its flows raise."""

from __future__ import annotations

from parovoz.chassis.errors import ApiError, conflict, register_messages, unauthorized

register_messages(
    {
        "MFA_ALREADY_ENABLED": {
            "ru": ("2FA уже включена", "Двухфакторная аутентификация уже включена."),
            "en": ("2FA already on", "Two-factor authentication is already on."),
        },
        "MFA_NOT_ENABLED": {
            "ru": ("2FA не включена", "Двухфакторная аутентификация не включена."),
            "en": ("2FA is off", "Two-factor authentication is not on."),
        },
        "MFA_ENROLMENT_NOT_STARTED": {
            "ru": (
                "Подключение не начато",
                "Сначала получите секрет для приложения-аутентификатора (POST /api/v1/auth/2fa/totp).",
            ),
            "en": (
                "Enrolment not started",
                "First get a secret for the authenticator app (POST /api/v1/auth/2fa/totp).",
            ),
        },
        "MFA_CODE_REQUIRED": {
            "ru": ("Нужен код", "Введите код из приложения-аутентификатора или код восстановления."),
            "en": ("Code required", "Enter the code from the authenticator app or a recovery code."),
        },
        "INVALID_MFA_CODE": {
            "ru": ("Неверный код", "Код неверен, устарел или уже использован."),
            "en": ("Wrong code", "The code is wrong, expired or already used."),
        },
        "INVALID_MFA_TOKEN": {
            "ru": (
                "Недействительный вход",
                "Подтверждение входа неизвестно, истекло или уже использовано. Войдите снова.",
            ),
            "en": (
                "Invalid sign-in challenge",
                "The sign-in challenge is unknown, expired or already used. Sign in again.",
            ),
        },
    }
)

CODE_POINTER = "/data/attributes/code"


def mfa_already_enabled() -> ApiError:
    return conflict("MFA_ALREADY_ENABLED")


def mfa_not_enabled() -> ApiError:
    return conflict("MFA_NOT_ENABLED")


def enrolment_not_started() -> ApiError:
    return conflict("MFA_ENROLMENT_NOT_STARTED")


def code_required() -> ApiError:
    return unauthorized("MFA_CODE_REQUIRED", pointer=CODE_POINTER)


def invalid_code() -> ApiError:
    # Wrong, outside the window, replayed or a spent recovery code: one answer.
    return unauthorized("INVALID_MFA_CODE", pointer=CODE_POINTER)


def invalid_mfa_token() -> ApiError:
    # Unknown, expired, spent, dead after too many wrong codes or another device: one answer.
    return unauthorized("INVALID_MFA_TOKEN", pointer="/data/attributes/mfaToken")


def wrong_password() -> ApiError:
    # Auth's code for a wrong current password (errors.py registers it); the field is `password`.
    return unauthorized("INVALID_CURRENT_PASSWORD", pointer="/data/attributes/password")
