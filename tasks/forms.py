from django import forms


class UploadForm(forms.Form):
    file = forms.FileField(label="Image to read", help_text="PNG or JPEG")
