# The report's items (snakemake --report). No rules here.


def report_items(caption, category, item, subcategory=None, **files):
    """One result shown several ways (name=path: a TSV beside its HTML table or figure), each a
    report item with the same caption (workflow/report/{caption}.rst), category and label; the
    item's type follows the file's suffix."""
    kinds = {".tsv": "TSV", ".html": "table", ".png": "figure", ".txt": "text"}
    where = {
        "category": category,
        **({"subcategory": subcategory} if subcategory else {}),
    }
    return {
        name: report(
            path,
            caption=f"../report/{caption}.rst",
            **where,
            labels={"item": item, "type": kinds[os.path.splitext(path)[1]]},
        )
        for name, path in files.items()
    }
