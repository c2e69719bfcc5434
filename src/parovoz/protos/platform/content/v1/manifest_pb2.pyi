from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChunkRef(_message.Message):
    __slots__ = ("id", "offset", "size", "stored_size")
    ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    STORED_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    offset: int
    size: int
    stored_size: int
    def __init__(self, id: _Optional[str] = ..., offset: _Optional[int] = ..., size: _Optional[int] = ..., stored_size: _Optional[int] = ...) -> None: ...

class FileEntry(_message.Message):
    __slots__ = ("path", "size", "mode", "sha256", "chunks")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    path: str
    size: int
    mode: int
    sha256: str
    chunks: _containers.RepeatedCompositeFieldContainer[ChunkRef]
    def __init__(self, path: _Optional[str] = ..., size: _Optional[int] = ..., mode: _Optional[int] = ..., sha256: _Optional[str] = ..., chunks: _Optional[_Iterable[_Union[ChunkRef, _Mapping]]] = ...) -> None: ...

class ChunkingParams(_message.Message):
    __slots__ = ("min_size", "avg_size", "max_size", "zstd_level")
    MIN_SIZE_FIELD_NUMBER: _ClassVar[int]
    AVG_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_SIZE_FIELD_NUMBER: _ClassVar[int]
    ZSTD_LEVEL_FIELD_NUMBER: _ClassVar[int]
    min_size: int
    avg_size: int
    max_size: int
    zstd_level: int
    def __init__(self, min_size: _Optional[int] = ..., avg_size: _Optional[int] = ..., max_size: _Optional[int] = ..., zstd_level: _Optional[int] = ...) -> None: ...

class Totals(_message.Message):
    __slots__ = ("files", "bytes", "chunks", "unique_chunks", "stored_bytes")
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    STORED_BYTES_FIELD_NUMBER: _ClassVar[int]
    files: int
    bytes: int
    chunks: int
    unique_chunks: int
    stored_bytes: int
    def __init__(self, files: _Optional[int] = ..., bytes: _Optional[int] = ..., chunks: _Optional[int] = ..., unique_chunks: _Optional[int] = ..., stored_bytes: _Optional[int] = ...) -> None: ...

class ChunkDelta(_message.Message):
    __slots__ = ("target", "base", "patch_id", "patch_size", "patch_stored_size", "from_build", "base_size")
    TARGET_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    PATCH_ID_FIELD_NUMBER: _ClassVar[int]
    PATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    PATCH_STORED_SIZE_FIELD_NUMBER: _ClassVar[int]
    FROM_BUILD_FIELD_NUMBER: _ClassVar[int]
    BASE_SIZE_FIELD_NUMBER: _ClassVar[int]
    target: str
    base: _containers.RepeatedScalarFieldContainer[str]
    patch_id: str
    patch_size: int
    patch_stored_size: int
    from_build: str
    base_size: int
    def __init__(self, target: _Optional[str] = ..., base: _Optional[_Iterable[str]] = ..., patch_id: _Optional[str] = ..., patch_size: _Optional[int] = ..., patch_stored_size: _Optional[int] = ..., from_build: _Optional[str] = ..., base_size: _Optional[int] = ...) -> None: ...

class Manifest(_message.Message):
    __slots__ = ("format", "build_id", "game_id", "depot_id", "branch", "created_at", "files", "chunking", "totals", "encryption_key_id", "deltas")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    BUILD_ID_FIELD_NUMBER: _ClassVar[int]
    GAME_ID_FIELD_NUMBER: _ClassVar[int]
    DEPOT_ID_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEY_ID_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    format: int
    build_id: str
    game_id: str
    depot_id: str
    branch: str
    created_at: int
    files: _containers.RepeatedCompositeFieldContainer[FileEntry]
    chunking: ChunkingParams
    totals: Totals
    encryption_key_id: str
    deltas: _containers.RepeatedCompositeFieldContainer[ChunkDelta]
    def __init__(self, format: _Optional[int] = ..., build_id: _Optional[str] = ..., game_id: _Optional[str] = ..., depot_id: _Optional[str] = ..., branch: _Optional[str] = ..., created_at: _Optional[int] = ..., files: _Optional[_Iterable[_Union[FileEntry, _Mapping]]] = ..., chunking: _Optional[_Union[ChunkingParams, _Mapping]] = ..., totals: _Optional[_Union[Totals, _Mapping]] = ..., encryption_key_id: _Optional[str] = ..., deltas: _Optional[_Iterable[_Union[ChunkDelta, _Mapping]]] = ...) -> None: ...

class SignedManifest(_message.Message):
    __slots__ = ("manifest", "signature", "key_id")
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    manifest: bytes
    signature: bytes
    key_id: str
    def __init__(self, manifest: _Optional[bytes] = ..., signature: _Optional[bytes] = ..., key_id: _Optional[str] = ...) -> None: ...
