from django.shortcuts import get_object_or_404, render

from trials.models import Trial


def home(request):
    ctx = {"open_count": Trial.objects.open().count()}
    return render(request, "trials/home.html", ctx)


def detail(request, nct_id):
    trial = get_object_or_404(Trial, nct_id=nct_id.upper())
    return render(request, "trials/detail.html", {"trial": trial})
