"""Catalog search: what a streamer types in, ranked catalog items out."""

from core.search.engine import Hit, SearchFilters, SearchIndex, SearchResult, parse_query, search

__all__ = ["Hit", "SearchFilters", "SearchIndex", "SearchResult", "parse_query", "search"]
