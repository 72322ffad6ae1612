"""The OCR worker command: Django Tasks' ``db_worker`` that loads the OCR engines before it takes work.

A separate app so that its ``db_worker`` is found before django_tasks_db's (INSTALLED_APPS order).
"""
