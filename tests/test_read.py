import fsspec
from ocrbeam.transforms.read import expand_input


def test_directory_is_read_recursively_without_hidden_files(tmp_path):
    (tmp_path / "a.pdf").write_bytes(b"1")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.png").write_bytes(b"22")
    (tmp_path / ".hidden").write_bytes(b"x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "c.pdf").write_bytes(b"x")
    refs = list(expand_input(str(tmp_path)))
    assert [r.source_uri for r in refs] == [
        str(tmp_path / "a.pdf"),
        str(tmp_path / "sub" / "b.png"),
    ]
    assert [r.size for r in refs] == [1, 2]


def test_glob_and_single_file(tmp_path):
    for name in ("a.pdf", "b.pdf", "c.png"):
        (tmp_path / name).write_bytes(b"x")
    assert len(list(expand_input(str(tmp_path / "*.pdf")))) == 2
    assert len(list(expand_input(str(tmp_path / "c.png")))) == 1
    assert list(expand_input(str(tmp_path / "missing.pdf"))) == []
    assert list(expand_input(str(tmp_path / "*.tiff"))) == []


def test_any_fsspec_url():
    fs = fsspec.filesystem("memory")
    fs.pipe("/lake/x/1.pdf", b"%PDF-")
    fs.pipe("/lake/x/2.pdf", b"%PDF-")
    refs = list(expand_input("memory://lake/x"))
    assert [r.source_uri.rsplit("/", 1)[1] for r in refs] == ["1.pdf", "2.pdf"]
    assert all(r.source_uri.startswith("memory://") for r in refs)
    # The URIs read back through fsspec, as the read stage does.
    assert fsspec.open(refs[0].source_uri, "rb").open().read() == b"%PDF-"
