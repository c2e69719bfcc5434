import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AccountStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ACCOUNT_STATUS_UNSPECIFIED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_ACTIVE: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_BLOCKED: _ClassVar[AccountStatus]
    ACCOUNT_STATUS_DELETED: _ClassVar[AccountStatus]

class ProfileVisibility(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROFILE_VISIBILITY_UNSPECIFIED: _ClassVar[ProfileVisibility]
    PROFILE_VISIBILITY_PUBLIC: _ClassVar[ProfileVisibility]
    PROFILE_VISIBILITY_FRIENDS: _ClassVar[ProfileVisibility]
    PROFILE_VISIBILITY_PRIVATE: _ClassVar[ProfileVisibility]
ACCOUNT_STATUS_UNSPECIFIED: AccountStatus
ACCOUNT_STATUS_ACTIVE: AccountStatus
ACCOUNT_STATUS_BLOCKED: AccountStatus
ACCOUNT_STATUS_DELETED: AccountStatus
PROFILE_VISIBILITY_UNSPECIFIED: ProfileVisibility
PROFILE_VISIBILITY_PUBLIC: ProfileVisibility
PROFILE_VISIBILITY_FRIENDS: ProfileVisibility
PROFILE_VISIBILITY_PRIVATE: ProfileVisibility

class Privacy(_message.Message):
    __slots__ = ("visibility", "show_playtime", "show_library", "show_online_status")
    VISIBILITY_FIELD_NUMBER: _ClassVar[int]
    SHOW_PLAYTIME_FIELD_NUMBER: _ClassVar[int]
    SHOW_LIBRARY_FIELD_NUMBER: _ClassVar[int]
    SHOW_ONLINE_STATUS_FIELD_NUMBER: _ClassVar[int]
    visibility: ProfileVisibility
    show_playtime: bool
    show_library: bool
    show_online_status: bool
    def __init__(self, visibility: _Optional[_Union[ProfileVisibility, str]] = ..., show_playtime: _Optional[bool] = ..., show_library: _Optional[bool] = ..., show_online_status: _Optional[bool] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("id", "username", "email", "display_name", "avatar_url", "bio", "country", "language", "birth_date", "status", "created_at", "updated_at", "privacy", "status_reason")
    ID_FIELD_NUMBER: _ClassVar[int]
    USERNAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    AVATAR_URL_FIELD_NUMBER: _ClassVar[int]
    BIO_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    BIRTH_DATE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PRIVACY_FIELD_NUMBER: _ClassVar[int]
    STATUS_REASON_FIELD_NUMBER: _ClassVar[int]
    id: str
    username: str
    email: str
    display_name: str
    avatar_url: str
    bio: str
    country: str
    language: str
    birth_date: str
    status: AccountStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    privacy: Privacy
    status_reason: str
    def __init__(self, id: _Optional[str] = ..., username: _Optional[str] = ..., email: _Optional[str] = ..., display_name: _Optional[str] = ..., avatar_url: _Optional[str] = ..., bio: _Optional[str] = ..., country: _Optional[str] = ..., language: _Optional[str] = ..., birth_date: _Optional[str] = ..., status: _Optional[_Union[AccountStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., privacy: _Optional[_Union[Privacy, _Mapping]] = ..., status_reason: _Optional[str] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class GetAccountResponse(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: Account
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ...) -> None: ...

class GetAccountsRequest(_message.Message):
    __slots__ = ("user_ids",)
    USER_IDS_FIELD_NUMBER: _ClassVar[int]
    user_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class GetAccountsResponse(_message.Message):
    __slots__ = ("accounts", "missing_ids")
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    MISSING_IDS_FIELD_NUMBER: _ClassVar[int]
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    missing_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ..., missing_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class SetAccountStatusRequest(_message.Message):
    __slots__ = ("user_id", "status", "reason", "changed_by")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CHANGED_BY_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    status: AccountStatus
    reason: str
    changed_by: str
    def __init__(self, user_id: _Optional[str] = ..., status: _Optional[_Union[AccountStatus, str]] = ..., reason: _Optional[str] = ..., changed_by: _Optional[str] = ...) -> None: ...

class SetAccountStatusResponse(_message.Message):
    __slots__ = ("account", "changed")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELD_NUMBER: _ClassVar[int]
    account: Account
    changed: bool
    def __init__(self, account: _Optional[_Union[Account, _Mapping]] = ..., changed: _Optional[bool] = ...) -> None: ...
