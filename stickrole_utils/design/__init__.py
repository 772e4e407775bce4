"""Stage 0, the study design: values, instruments and item banks, populations, contexts, prompts."""

from .chunks import (
    LEADERBOARD_CHUNKS,
    order_chunks,
)
from .contexts import (
    CHUNK_PRESETS,
    TOPIC_OPENERS,
    ChunkContext,
    chunk_contexts,
    find_data_file,
    read_corpus,
    resolve_chunk,
)
from .instruments import (
    INSTRUMENTS,
    PVQ40,
    SVS57,
    Instrument,
    get_instrument,
)
from .itembank import (
    BUILTIN_BANKS,
    ORIGINAL_FILES,
    ItemBank,
    load_itembank,
    read_original_csv,
)
from .populations import (
    BUILTIN_POPULATIONS,
    ORIGINAL_POPULATIONS,
    Persona,
    derangement,
    load_population,
    read_persona_file,
)
from .prompts import (
    DEFAULT_PROMPTS,
    Prompts,
    alternate_roles,
    format_options,
    item_message,
    letters,
    with_persona,
)
from .values import (
    HIGHER_ORDER,
    HIGHER_ORDER_OF,
    THEORETICAL_COORDS,
    THEORETICAL_RANKS,
    VALUE_CODES,
    VALUES,
    theoretical_coords,
)

__all__ = [
    "LEADERBOARD_CHUNKS",
    "order_chunks",
    "TOPIC_OPENERS",
    "CHUNK_PRESETS",
    "ChunkContext",
    "resolve_chunk",
    "read_corpus",
    "chunk_contexts",
    "find_data_file",
    "Instrument",
    "INSTRUMENTS",
    "PVQ40",
    "SVS57",
    "get_instrument",
    "ItemBank",
    "BUILTIN_BANKS",
    "ORIGINAL_FILES",
    "load_itembank",
    "read_original_csv",
    "Persona",
    "BUILTIN_POPULATIONS",
    "ORIGINAL_POPULATIONS",
    "load_population",
    "read_persona_file",
    "derangement",
    "Prompts",
    "DEFAULT_PROMPTS",
    "letters",
    "format_options",
    "item_message",
    "alternate_roles",
    "with_persona",
    "VALUES",
    "VALUE_CODES",
    "HIGHER_ORDER",
    "HIGHER_ORDER_OF",
    "THEORETICAL_COORDS",
    "THEORETICAL_RANKS",
    "theoretical_coords",
]
