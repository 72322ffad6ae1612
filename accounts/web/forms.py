from django import forms


class LoginForm(forms.Form):
    username = forms.CharField(label="Company email", max_length=254,
                               widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(label="Password", max_length=1024, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
