"""The console shell: layout, navigation, login, language switch and the pages every user sees."""

from smartcity.web.pages import module

__all__ = ["module"]
