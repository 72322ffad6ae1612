"""{% load cached_static %}: Django's {% load static %} with {% static %}'s answers remembered (the pages load it).

Every page links the same few stylesheets and scripts, and each {% static %} asked the storage again
(a URL join and quoting per file: about a twentieth of a page's drawing). The answer depends only on
the path and the static files' settings, which a running process does not change (a manifest storage
reads its manifest once), so it is kept per process and forgotten when a test changes a setting.
The library is Django's own otherwise: get_static_prefix, get_media_prefix and the static() function.
"""

from functools import lru_cache

from django import template
from django.core.signals import setting_changed
from django.templatetags import static as django_static

MAX_PATHS = 1024

register = template.Library()
register.tags.update(django_static.register.tags)
register.filters.update(django_static.register.filters)


@lru_cache(maxsize=MAX_PATHS)
def _url(path: str) -> str:
    return django_static.StaticNode.handle_simple(path)


def _forget(**kwargs):
    _url.cache_clear()  # tests change STATIC_URL and STORAGES (override_settings)


setting_changed.connect(_forget)


class CachedStaticNode(django_static.StaticNode):
    """Django's StaticNode, its URL looked up through _url."""

    @classmethod
    def handle_simple(cls, path):
        try:
            return _url(path)
        except TypeError:  # a path that cannot be a key
            return django_static.StaticNode.handle_simple(path)


@register.tag("static")
def do_static(parser, token):
    return CachedStaticNode.handle_token(parser, token)
