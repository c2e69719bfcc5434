"""Auth's error codes (ru + en texts) and the errors the flows raise."""

from __future__ import annotations

from parovoz.chassis.errors import (
    ApiError,
    bad_request,
    conflict,
    forbidden,
    not_found,
    register_messages,
    unauthorized,
)

register_messages(
    {
        "EMAIL_TAKEN": {
            "ru": ("Адрес занят", "Пользователь с таким адресом электронной почты уже существует."),
            "en": ("E-mail taken", "A user with this e-mail address already exists."),
        },
        "USERNAME_TAKEN": {
            "ru": ("Имя занято", "Пользователь с таким именем уже существует."),
            "en": ("Username taken", "A user with this username already exists."),
        },
        "INVALID_CREDENTIALS": {
            "ru": ("Неверные данные для входа", "Неверный логин или пароль."),
            "en": ("Invalid credentials", "The login or the password is wrong."),
        },
        "ACCOUNT_BLOCKED": {
            "ru": ("Учётная запись заблокирована", "Вход в эту учётную запись запрещён."),
            "en": ("Account blocked", "Signing in to this account is not allowed."),
        },
        "INVALID_REFRESH_TOKEN": {
            "ru": ("Недействительный токен обновления", "Токен обновления неизвестен, истёк или отозван."),
            "en": ("Invalid refresh token", "The refresh token is unknown, expired or revoked."),
        },
        "REFRESH_TOKEN_REUSED": {
            "ru": (
                "Повторное использование токена",
                "Этот токен обновления уже использован; сеанс завершён. Войдите снова.",
            ),
            "en": (
                "Refresh token reused",
                "This refresh token was already used; the session is ended. Sign in again.",
            ),
        },
        "SESSION_NOT_FOUND": {
            "ru": ("Сеанс не найден", "Среди ваших действующих сеансов такого нет."),
            "en": ("Session not found", "None of your live sessions has this id."),
        },
        "CONSENT_REQUIRED": {
            "ru": (
                "Нужно согласие",
                "Чтобы зарегистрироваться, примите пользовательское соглашение и политику обработки "
                "персональных данных (acceptTerms: true).",
            ),
            "en": (
                "Consent required",
                "To sign up, accept the user agreement and the privacy policy (acceptTerms: true).",
            ),
        },
        "INVALID_CURRENT_PASSWORD": {
            "ru": ("Неверный текущий пароль", "Текущий пароль указан неверно."),
            "en": ("Wrong current password", "The current password is wrong."),
        },
        "INVALID_ONE_TIME_TOKEN": {
            "ru": (
                "Недействительная ссылка",
                "Ссылка неизвестна, уже использована или устарела. Запросите новое письмо.",
            ),
            "en": (
                "Invalid link",
                "The link is unknown, already used or expired. Ask for a new e-mail.",
            ),
        },
        "USER_NOT_FOUND": {
            "ru": ("Пользователь не найден", "Пользователя с таким идентификатором нет."),
            "en": ("User not found", "There is no user with this id."),
        },
        "INVALID_EMAIL": {
            "ru": ("Некорректный адрес", "Укажите корректный адрес электронной почты."),
            "en": ("Invalid e-mail", "Enter a valid e-mail address."),
        },
        "INVALID_USERNAME": {
            "ru": (
                "Некорректное имя",
                "Имя: от 3 до 32 символов — латинские буквы, цифры, «_», «.» и «-».",
            ),
            "en": (
                "Invalid username",
                "A username has 3 to 32 characters: Latin letters, digits, '_', '.' and '-'.",
            ),
        },
        "INVALID_PASSWORD": {
            "ru": ("Некорректный пароль", "Пароль должен содержать от 8 до 256 символов."),
            "en": ("Invalid password", "A password has 8 to 256 characters."),
        },
        "PASSWORD_TOO_COMMON": {
            "ru": (
                "Слишком простой пароль",
                "Этот пароль слишком распространён и легко угадывается: выберите другой.",
            ),
            "en": (
                "Password too common",
                "This password is too common and easy to guess: choose another one.",
            ),
        },
        "PASSWORD_MATCHES_IDENTITY": {
            "ru": (
                "Пароль совпадает с данными учётной записи",
                "Пароль не должен совпадать с адресом электронной почты или именем пользователя.",
            ),
            "en": (
                "Password matches the account",
                "The password must not be the same as the e-mail address or the username.",
            ),
        },
    }
)


def email_taken() -> ApiError:
    return conflict("EMAIL_TAKEN", pointer="/data/attributes/email")


def username_taken() -> ApiError:
    return conflict("USERNAME_TAKEN", pointer="/data/attributes/username")


def invalid_credentials() -> ApiError:
    return unauthorized("INVALID_CREDENTIALS")


def account_blocked() -> ApiError:
    return forbidden("ACCOUNT_BLOCKED")


def invalid_refresh_token() -> ApiError:
    return unauthorized("INVALID_REFRESH_TOKEN")


def refresh_token_reused() -> ApiError:
    return unauthorized("REFRESH_TOKEN_REUSED")


def session_not_found() -> ApiError:
    # Also for another user's session: 404, never 403, so that ids cannot be probed.
    return not_found("SESSION_NOT_FOUND")


def invalid_current_password() -> ApiError:
    return unauthorized("INVALID_CURRENT_PASSWORD", pointer="/data/attributes/currentPassword")


def invalid_one_time_token() -> ApiError:
    # Unknown, used, expired or of the other purpose: one answer, nothing to tell them apart.
    return bad_request("INVALID_ONE_TIME_TOKEN", pointer="/data/attributes/token")
