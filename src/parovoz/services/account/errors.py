"""Account's error codes with their ru/en messages, and the ApiErrors the adapters raise."""

from __future__ import annotations

from collections.abc import Sequence

from parovoz.chassis.errors import ApiError, ErrorItem, register_messages
from parovoz.services.account.domain import profile

ACCOUNT_NOT_FOUND = "ACCOUNT_NOT_FOUND"
INVALID_USER_ID = "INVALID_USER_ID"
TOO_MANY_USER_IDS = "TOO_MANY_USER_IDS"
INVALID_ACCOUNT_STATUS = "INVALID_ACCOUNT_STATUS"
INVALID_BLOCK_REASON = "INVALID_BLOCK_REASON"
MAX_BATCH = 100
MAX_BLOCK_REASON = 500

register_messages(
    {
        ACCOUNT_NOT_FOUND: {
            "ru": ("Аккаунт не найден", "Аккаунта с таким идентификатором нет."),
            "en": ("Account not found", "There is no account with this id."),
        },
        INVALID_USER_ID: {
            "ru": ("Некорректный идентификатор", "Идентификатор пользователя должен быть UUID."),
            "en": ("Invalid id", "A user id must be a UUID."),
        },
        TOO_MANY_USER_IDS: {
            "ru": ("Слишком много идентификаторов", "За один запрос можно получить не больше {max}."),
            "en": ("Too many ids", "At most {max} accounts can be fetched at once."),
        },
        INVALID_ACCOUNT_STATUS: {
            "ru": ("Некорректный статус", "Допустимые статусы: ACTIVE или BLOCKED."),
            "en": ("Invalid status", "The status must be ACTIVE or BLOCKED."),
        },
        INVALID_BLOCK_REASON: {
            "ru": (
                "Некорректная причина блокировки",
                "При блокировке причина обязательна: от 1 до {max} символов.",
            ),
            "en": ("Invalid block reason", "Blocking needs a reason of 1 to {max} characters."),
        },
        profile.DISPLAY_NAME_INVALID: {
            "ru": (
                "Некорректное отображаемое имя",
                "От 1 до {max} символов без управляющих символов.",
            ),
            "en": ("Invalid display name", "1 to {max} characters, no control characters."),
        },
        profile.AVATAR_URL_INVALID: {
            "ru": (
                "Некорректный адрес аватара",
                "Нужен абсолютный адрес https:// длиной до {max} символов или null.",
            ),
            "en": ("Invalid avatar URL", "An absolute https:// URL of at most {max} characters, or null."),
        },
        profile.BIO_INVALID: {
            "ru": ("Некорректное описание", "До {max} символов без управляющих символов, или null."),
            "en": ("Invalid bio", "At most {max} characters, no control characters, or null."),
        },
        profile.COUNTRY_INVALID: {
            "ru": (
                "Некорректная страна",
                "Код страны ISO 3166-1 alpha-2 заглавными буквами (например, RU) или null.",
            ),
            "en": ("Invalid country", "An ISO 3166-1 alpha-2 country code in upper case (e.g. RU), or null."),
        },
        profile.LANGUAGE_UNSUPPORTED: {
            "ru": ("Язык не поддерживается", "Допустимые языки: {languages}."),
            "en": ("Unsupported language", "Supported languages: {languages}."),
        },
        profile.BIRTH_DATE_INVALID: {
            "ru": (
                "Некорректная дата рождения",
                "Дата в формате ГГГГ-ММ-ДД не раньше {earliest} и не в будущем, или null.",
            ),
            "en": ("Invalid birth date", "A YYYY-MM-DD date from {earliest} up to today, or null."),
        },
    }
)


def account_not_found() -> ApiError:
    return ApiError(404, ACCOUNT_NOT_FOUND)


def invalid_profile(problems: Sequence[profile.FieldProblem], pointer_of: dict[str, str]) -> ApiError:
    """422 with one item per offending field; `pointer_of` maps field names to JSON pointers."""
    items = [ErrorItem(p.code, pointer=pointer_of[p.field], params=p.params) for p in problems]
    return ApiError(422, items[0].code, items=items)
