"""The Mini App: its JSON API (`api`), the initData check (`auth`), browsing (`browse`), the radar SVG."""
