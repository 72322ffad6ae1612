"""Sign-in and sign-out pages (thin: the procedure is accounts/signin.py)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth import logout
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import external_auth
from accounts.signin import incomplete, sign_in
from accounts.web.forms import LoginForm
from core.audit import Actor
from core.errors import AppError


def _safe_next(request):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)  # under the script prefix, as every URL here


@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return HttpResponseRedirect(_safe_next(request))
    form = LoginForm(request.POST or None)
    error = None
    if request.method == "POST":
        if form.is_valid():
            user, error = sign_in(request, form.cleaned_data["username"], form.cleaned_data["password"])
            if user is not None:
                request.sign_in_result = ("success", "ok")
                target = _safe_next(request)
                return HttpResponseClientRedirect(target) if request.htmx else HttpResponseRedirect(target)
        else:
            error = incomplete()
    context = {"form": form, "error": error, "next": request.GET.get("next", ""),
               "auth_mode": settings.AUTH_MODE, "worst_case_seconds": round(external_auth.worst_case_seconds())}
    status = error.status if error else 200
    request.sign_in_result = ("failure", error.code) if error else None  # counted by ops.middleware
    if request.htmx:
        return render(request, "accounts/_login_feedback.html", context, status=status)
    return render(request, "accounts/login.html", context, status=status)


@require_POST
def logout_view(request):
    logout(request)  # accounts.signals deletes the stored tokens
    return HttpResponseRedirect(reverse("login"))


@require_GET
def admin_login_redirect(request):
    """The admin's own login form would skip the brute-force limit: send people here instead.

    A signed-in person who is not staff gets a page saying the admin is for operators (the
    login page would send them straight back to the admin, round a redirect circle).
    """
    if request.user.is_authenticated and not request.user.is_staff:
        return render(request, "accounts/not_an_operator.html", status=403)
    target = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("admin:index")
    return HttpResponseRedirect(f"{reverse('login')}?{urlencode({'next': target})}")


# --- Personal API tokens (/account/tokens/) ---------------------------------------
API_TOKEN_EXPIRY_CHOICES = (("", "Never"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("365", "1 year"))


def _tokens_page(request, *, status=200, **context):
    from accounts.selectors import api_token_list

    context = {"tokens": api_token_list(user=request.user), "expiry_choices": API_TOKEN_EXPIRY_CHOICES,
               "form_name": "", "form_expiry": "", **context}
    response = render(request, "accounts/tokens.html", context, status=status)
    response["Cache-Control"] = "no-store"  # the page that shows a new token once must not be kept anywhere
    return response


@login_required
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def tokens_view(request):
    """List the person's tokens; POST makes one and shows it once (in this answer only, never stored in clear)."""
    from accounts.services import api_token_create

    if request.method == "GET":
        return _tokens_page(request)
    name, expiry = request.POST.get("name", ""), request.POST.get("expires_in_days", "")
    if expiry not in dict(API_TOKEN_EXPIRY_CHOICES):
        return _tokens_page(request, status=400, error="Choose one of the offered expiry times.",
                            form_name=name, form_expiry="")
    try:
        token, plain = api_token_create(user=request.user, name=name,
                                        expires_in_days=int(expiry) if expiry else None, actor=Actor.of(request))
    except AppError as exc:
        return _tokens_page(request, status=exc.status, error=exc.message, form_name=name, form_expiry=expiry)
    return _tokens_page(request, status=201, created=token, plain_token=plain)


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke_view(request, token_id):
    """GET: the confirm page; POST: revoke. Another person's token is a 404 like an unknown id."""
    from django.contrib import messages
    from django.http import Http404

    from accounts.selectors import api_token_get
    from accounts.services import api_token_revoke

    token = api_token_get(user=request.user, token_id=token_id)
    if token is None:
        raise Http404("No such token.")
    if request.method == "GET":
        return render(request, "accounts/token_revoke.html", {"token": token})
    api_token_revoke(token=token, actor=Actor.of(request))
    messages.success(request, f"The token “{token.name}” is revoked: scripts using it are refused from now on.")
    return HttpResponseRedirect(reverse("account-tokens"))
