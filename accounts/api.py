"""GET /api/v1/me: who is signed in, and how many of their tasks are waiting or running."""

from ninja import Router, Schema

from tasks.selectors import task_active_count

router = Router(tags=["account"])


class MeOut(Schema):
    email: str
    name: str
    job_title: str
    office_location: str
    active_tasks: int


@router.get("/me", response=MeOut, summary="The signed-in user")
def me(request):
    user = request.user
    return {"email": user.email, "name": user.name, "job_title": user.job_title,
            "office_location": user.office_location, "active_tasks": task_active_count(user=user)}
