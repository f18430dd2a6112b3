"""Catalog search: what a streamer types in, ranked catalog items out.

`query` reads the filters out of the text, `normalize` gives text one canonical form, `index`
builds the immutable `SearchIndex`, and `rank` matches, scores and orders its items.
"""

from core.search.index import SearchIndex
from core.search.query import SearchFilters, parse_query
from core.search.rank import Hit, SearchResult, find_brand, search

__all__ = ["Hit", "SearchFilters", "SearchIndex", "SearchResult", "find_brand", "parse_query", "search"]
