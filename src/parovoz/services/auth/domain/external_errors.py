"""Error codes of sign-in through VK ID, Odnoklassniki and Telegram (ru + en texts)."""

from __future__ import annotations

from parovoz.chassis.errors import (
    ApiError,
    bad_request,
    conflict,
    not_found,
    register_messages,
    unprocessable,
)

register_messages(
    {
        "OAUTH_PROVIDER_NOT_FOUND": {
            "ru": ("Провайдер не найден", "Вход возможен через vk, ok и telegram."),
            "en": ("Provider not found", "Sign-in is offered through vk, ok and telegram."),
        },
        "OAUTH_PROVIDER_NOT_CONFIGURED": {
            "ru": ("Провайдер недоступен", "Вход через этого провайдера сейчас не настроен."),
            "en": ("Provider unavailable", "Sign-in through this provider is not set up."),
        },
        "INVALID_OAUTH_STATE": {
            "ru": (
                "Недействительный запрос входа",
                "Запрос входа неизвестен, устарел, уже использован или начат в другом браузере. "
                "Начните вход заново.",
            ),
            "en": (
                "Invalid sign-in request",
                "The sign-in request is unknown, expired, already used or was started in another "
                "browser. Start signing in again.",
            ),
        },
        "OAUTH_EXCHANGE_FAILED": {
            "ru": ("Провайдер отказал", "Провайдер не подтвердил вход. Начните вход заново."),
            "en": ("Provider refused", "The provider did not confirm the sign-in. Start again."),
        },
        "OAUTH_PROVIDER_ERROR": {
            "ru": ("Ошибка провайдера", "Провайдер входа не ответил как положено. Попробуйте позже."),
            "en": ("Provider error", "The sign-in provider did not answer properly. Try again later."),
        },
        "IDENTITY_ALREADY_LINKED": {
            "ru": ("Аккаунт уже привязан", "Этот аккаунт провайдера привязан к другому пользователю."),
            "en": ("Account already linked", "This provider account is linked to another user."),
        },
        "PROVIDER_ALREADY_LINKED": {
            "ru": (
                "Провайдер уже привязан",
                "К вашей учётной записи уже привязан другой аккаунт этого провайдера: сначала отвяжите его.",
            ),
            "en": (
                "Provider already linked",
                "Another account of this provider is linked to you: unlink it first.",
            ),
        },
        "IDENTITY_NOT_FOUND": {
            "ru": ("Привязка не найдена", "Аккаунт этого провайдера не привязан к вашей учётной записи."),
            "en": ("Link not found", "No account of this provider is linked to you."),
        },
        "LAST_SIGN_IN_METHOD": {
            "ru": (
                "Последний способ входа",
                "Это ваш единственный способ входа. Сначала задайте пароль или привяжите другой аккаунт.",
            ),
            "en": (
                "Last sign-in method",
                "This is your only way to sign in. Set a password or link another account first.",
            ),
        },
        "INVALID_TELEGRAM_AUTH": {
            "ru": ("Неверные данные Telegram", "Подпись данных входа через Telegram не сходится."),
            "en": ("Invalid Telegram data", "The signature of the Telegram sign-in data does not match."),
        },
        "TELEGRAM_AUTH_EXPIRED": {
            "ru": ("Данные Telegram устарели", "Данные входа через Telegram устарели. Войдите заново."),
            "en": ("Telegram data expired", "The Telegram sign-in data is too old. Sign in again."),
        },
        "TELEGRAM_AUTH_REPLAYED": {
            "ru": ("Данные Telegram уже использованы", "Эти данные входа уже использованы. Войдите заново."),
            "en": ("Telegram data already used", "This sign-in data was already used. Sign in again."),
        },
        "PASSWORD_NOT_SET": {
            "ru": (
                "Пароль не задан",
                "У учётной записи нет пароля: задайте его через восстановление пароля (password/forgot).",
            ),
            "en": (
                "No password set",
                "The account has no password: set one through password recovery (password/forgot).",
            ),
        },
    }
)


def provider_not_found() -> ApiError:
    return not_found("OAUTH_PROVIDER_NOT_FOUND")


def provider_not_configured() -> ApiError:
    return ApiError(503, "OAUTH_PROVIDER_NOT_CONFIGURED")


def invalid_state() -> ApiError:
    # Unknown, expired, spent or from another browser: one answer, nothing to tell them apart.
    return bad_request("INVALID_OAUTH_STATE", parameter="state")


def exchange_failed() -> ApiError:
    return ApiError(401, "OAUTH_EXCHANGE_FAILED")


def provider_error() -> ApiError:
    return ApiError(502, "OAUTH_PROVIDER_ERROR")


def identity_already_linked() -> ApiError:
    return conflict("IDENTITY_ALREADY_LINKED")


def provider_already_linked() -> ApiError:
    return conflict("PROVIDER_ALREADY_LINKED")


def identity_not_found() -> ApiError:
    return not_found("IDENTITY_NOT_FOUND")


def last_sign_in_method() -> ApiError:
    return conflict("LAST_SIGN_IN_METHOD")


def consent_required(pointer: str | None = None, parameter: str | None = None) -> ApiError:
    return unprocessable("CONSENT_REQUIRED", pointer=pointer, parameter=parameter)


def invalid_telegram_auth() -> ApiError:
    return ApiError(401, "INVALID_TELEGRAM_AUTH")


def telegram_auth_expired() -> ApiError:
    return ApiError(401, "TELEGRAM_AUTH_EXPIRED")


def telegram_auth_replayed() -> ApiError:
    return ApiError(401, "TELEGRAM_AUTH_REPLAYED")


def password_not_set() -> ApiError:
    return conflict("PASSWORD_NOT_SET")
