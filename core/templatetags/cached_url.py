"""{% url %} with its answers remembered: the same tag, installed as a builtin over Django's (settings.TEMPLATES).

A history page reverses about 45 URLs (the header's, each row's), and a reversal walks the URL
patterns: most are the same from one request to the next. The answer depends only on what is in
the key (the name, the arguments, the app namespace, the URLconf and the script prefix), so it is
kept per process, at most MAX_URLS of them. Arguments that cannot be a key are reversed as before.
"""

from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.template import defaulttags
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

MAX_URLS = 4096

register = template.Library()


@lru_cache(maxsize=MAX_URLS)
def _reverse(view_name, args, kwargs, current_app, urlconf, prefix):
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app, urlconf=urlconf)


def cached_reverse(view_name, args, kwargs, current_app):
    try:
        return _reverse(view_name, tuple(args), tuple(sorted(kwargs.items())), current_app, *where())
    except TypeError:  # an argument that cannot be a key
        return reverse(view_name, args=args, kwargs=kwargs, current_app=current_app)


def where() -> tuple:
    """(URLconf, script prefix): what a reversal depends on besides its own arguments."""
    return get_urlconf() or settings.ROOT_URLCONF, get_script_prefix()


def reverse_at(place: tuple, view_name, args, current_app):
    """cached_reverse with ``where()`` read once by the caller: a page that reverses a dozen URLs asks once."""
    try:
        return _reverse(view_name, args, (), current_app, *place)
    except TypeError:  # an argument that cannot be a key
        return reverse(view_name, args=args, current_app=current_app)


def _forget(**kwargs):
    _reverse.cache_clear()  # tests swap URLconfs (override_settings), and with them every answer


setting_changed.connect(_forget)


class CachedURLNode(defaulttags.URLNode):
    """Django's URLNode.render, reversing through cached_reverse."""

    def render(self, context):
        args = [arg.resolve(context) for arg in self.args]
        kwargs = {k: v.resolve(context) for k, v in self.kwargs.items()}
        view_name = self.view_name.resolve(context)
        try:
            current_app = context.request.current_app
        except AttributeError:
            try:
                current_app = context.request.resolver_match.namespace
            except AttributeError:
                current_app = None
        url = ""
        try:
            url = cached_reverse(view_name, args, kwargs, current_app)
        except NoReverseMatch:
            if self.asvar is None:
                raise
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token):
    node = defaulttags.url(parser, token)
    return CachedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
