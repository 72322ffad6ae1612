"""No import circle anywhere in the project's code, imports inside functions included.

.importlinter's contracts (run first by scripts/run_tests.sh) keep the apps' layers and the
sibling packages acyclic; this test looks at every module on its own, so a circle that the
squashed sibling view does not show (a package and one of its own modules, or one hidden
behind an ignored import) fails here, with the circle named.
"""

import grimp
import pytest

pytestmark = pytest.mark.db_independent  # the import graph, no database

ROOTS = ("core", "accounts", "tasks", "ops", "tool_ocr")


def import_circles(graph) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each sorted, the list sorted."""
    index, low, on_stack, stack, circles = {}, {}, set(), [], []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(circles)


def test_no_module_reaches_itself_through_its_imports():
    graph = grimp.build_graph(*ROOTS, cache_dir=None)
    circles = import_circles(graph)
    named = ["; ".join(f"{m} -> {', '.join(sorted(graph.find_modules_directly_imported_by(m) & set(c)))}" for m in c)
             for c in circles]
    assert not circles, "import circles (move the shared piece down a layer):\n" + "\n".join(named)


def test_the_check_finds_a_circle_hidden_in_a_function(tmp_path, monkeypatch):
    package = tmp_path / "circle_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from circle_demo import b\n")
    (package / "b.py").write_text("def later():\n    from circle_demo import c\n")
    (package / "c.py").write_text("import circle_demo.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_circles(grimp.build_graph("circle_demo", cache_dir=None)) == [
        ["circle_demo.a", "circle_demo.b", "circle_demo.c"]]
