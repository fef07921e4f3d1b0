// dicom.cc: see dicom.h. A thin C++ file over DCMTK's dcmdata with a C interface; no state of its own. Built
// into libfn-dicom.so (with its own copy of err.c), which plugin.c loads on the first DICOM read: these are
// fn_dcm_read and fn_dcm_quiet of dicom.h behind the table fn_dicom_plugin (fn_is_dicom is plugin.c's,
// fn_dcm_has_magic and fn_dcm_free dcmfile.c's, in C: they need no DCMTK).
#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dctk.h>
#include <dcmtk/oflog/oflog.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <string>
#include <sys/stat.h>
#include <vector>
extern "C" { // fn's C headers
#include "base/err.h"
#include "base/tensor.h"
}
#include "data/plugin.h"

namespace {

// one image plane of a file (a frame of a multi-frame file)
struct plane {
    size_t file;      // index into the files
    long frame;       // frame of that file
    double ipp[3];    // ImagePositionPatient (LPS mm)
    double along;     // ipp projected on the plane's normal
};

// what one file says
struct header {
    std::string path, series, desc, modality;
    long rows = 0, cols = 0, frames = 1, bits = 0, stored = 0, sign = 0, spp = 1;
    double iop[6] = {1, 0, 0, 0, 1, 0}, ps[2] = {1, 1}, slope = 1, inter = 0, thick = 0;
    bool has_iop = false;
    std::vector<std::array<double, 3>> ipp; // one per frame
    unsigned long pixel_bytes = 0;
};

bool getd(DcmItem *it, const DcmTagKey &k, double &v, unsigned long pos = 0, bool sub = false) {
    Float64 f;
    if (it->findAndGetFloat64(k, f, pos, sub).good()) {
        v = f;
        return true;
    }
    return false;
}

std::string gets(DcmItem *it, const DcmTagKey &k) {
    OFString s;
    return it->findAndGetOFString(k, s).good() ? std::string(s.c_str()) : std::string();
}

long getl(DcmItem *it, const DcmTagKey &k, long dflt) {
    Uint16 u;
    if (it->findAndGetUint16(k, u).good()) return u;
    Sint32 s;
    if (it->findAndGetSint32(k, s).good()) return s;
    OFString str;
    if (it->findAndGetOFString(k, str).good() && !str.empty()) return std::atol(str.c_str());
    return dflt;
}

int fail(fn_err *e, const std::string &m) { return fn_seterr(e, "%s", m.c_str()); }

// load one file and read its header; pixels loaded when ff is kept by the caller
int read_header(const std::string &path, DcmFileFormat &ff, header &h, bool pixels, fn_err *e) {
    h.path = path;
    OFCondition c = ff.loadFile(path.c_str(), EXS_Unknown, EGL_noChange, pixels ? DCM_MaxReadLength : 4096);
    if (c.bad()) return fail(e, path + ": not a readable DICOM file (" + c.text() + ")");
    DcmDataset *ds = ff.getDataset();
    DcmXfer xfer(ds->getOriginalXfer());
    h.series = gets(ds, DCM_SeriesInstanceUID);
    h.desc = gets(ds, DCM_SeriesDescription);
    h.modality = gets(ds, DCM_Modality);
    h.rows = getl(ds, DCM_Rows, 0), h.cols = getl(ds, DCM_Columns, 0);
    h.frames = getl(ds, DCM_NumberOfFrames, 1);
    h.bits = getl(ds, DCM_BitsAllocated, 0), h.stored = getl(ds, DCM_BitsStored, h.bits);
    h.sign = getl(ds, DCM_PixelRepresentation, 0), h.spp = getl(ds, DCM_SamplesPerPixel, 1);
    DcmElement *px = nullptr;
    if (ds->findAndGetElement(DCM_PixelData, px).bad() || !px)
        return fail(e, path + ": no pixel data (not an image: " + (h.modality.empty() ? "no modality" : h.modality) + ")");
    if (xfer.isEncapsulated())
        return fail(e, path + ": compressed pixel data (" + xfer.getXferName() + "): fn reads uncompressed DICOM");
    h.pixel_bytes = px->getLength();
    if (h.rows < 1 || h.cols < 1 || h.rows > FN_MAX_HW || h.cols > FN_MAX_HW || h.frames < 1 || h.frames > FN_MAX_HW)
        return fail(e, path + ": bad image size " + std::to_string(h.rows) + "x" + std::to_string(h.cols) + "x" +
                           std::to_string(h.frames));
    if (h.spp != 1) return fail(e, path + ": " + std::to_string(h.spp) + " samples per pixel: fn reads grey images");
    if (h.bits != 8 && h.bits != 16)
        return fail(e, path + ": " + std::to_string(h.bits) + " bits allocated: fn reads 8 and 16");
    if (h.stored < 1 || h.stored > h.bits) h.stored = h.bits;
    double need = (double)h.rows * h.cols * h.frames * (h.bits / 8);
    if ((double)h.pixel_bytes < need)
        return fail(e, path + ": pixel data holds " + std::to_string(h.pixel_bytes) + " bytes, the header says " +
                           std::to_string((long long)need) + " (truncated)");
    // geometry: top level, else the shared functional groups (enhanced multi-frame objects)
    h.has_iop = true;
    for (int i = 0; i < 6; i++) h.has_iop = h.has_iop && getd(ds, DCM_ImageOrientationPatient, h.iop[i], i, true);
    if (!h.has_iop) {
        static const double id[6] = {1, 0, 0, 0, 1, 0};
        std::copy(id, id + 6, h.iop);
    }
    if (!getd(ds, DCM_PixelSpacing, h.ps[0], 0, true) || !getd(ds, DCM_PixelSpacing, h.ps[1], 1, true)) h.ps[0] = h.ps[1] = 1;
    if (!getd(ds, DCM_RescaleSlope, h.slope, 0, true) || !std::isfinite(h.slope) || h.slope == 0) h.slope = 1;
    if (!getd(ds, DCM_RescaleIntercept, h.inter, 0, true) || !std::isfinite(h.inter)) h.inter = 0;
    if (!getd(ds, DCM_SpacingBetweenSlices, h.thick, 0, true)) getd(ds, DCM_SliceThickness, h.thick, 0, true);
    DcmSequenceOfItems *pf = nullptr;
    if (h.frames > 1 && ds->findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, pf).good() && pf &&
        (long)pf->card() == h.frames) {
        for (long f = 0; f < h.frames; f++) {
            std::array<double, 3> p{};
            DcmItem *it = pf->getItem((unsigned long)f);
            bool ok = true;
            for (int i = 0; i < 3; i++) ok = ok && getd(it, DCM_ImagePositionPatient, p[i], i, true);
            if (!ok) {
                h.ipp.clear();
                break;
            }
            h.ipp.push_back(p);
        }
    }
    if (h.ipp.empty()) { // one position: the frames of a multi-frame file lie along the normal
        std::array<double, 3> p{};
        bool ok = true;
        for (int i = 0; i < 3; i++) ok = ok && getd(ds, DCM_ImagePositionPatient, p[i], i, true);
        if (!ok) p = {0, 0, 0};
        double n[3] = {h.iop[1] * h.iop[5] - h.iop[2] * h.iop[4], h.iop[2] * h.iop[3] - h.iop[0] * h.iop[5],
                       h.iop[0] * h.iop[4] - h.iop[1] * h.iop[3]};
        double dz = h.thick > 0 ? h.thick : 1;
        for (long f = 0; f < h.frames; f++)
            h.ipp.push_back({p[0] + f * dz * n[0], p[1] + f * dz * n[1], p[2] + f * dz * n[2]});
    }
    return 0;
}

bool same_geometry(const header &a, const header &b) {
    if (a.rows != b.rows || a.cols != b.cols || a.bits != b.bits) return false;
    for (int i = 0; i < 6; i++)
        if (std::fabs(a.iop[i] - b.iop[i]) > 1e-4) return false;
    return std::fabs(a.ps[0] - b.ps[0]) < 1e-4 && std::fabs(a.ps[1] - b.ps[1]) < 1e-4;
}

// the regular, not hidden files of a folder, sorted by name (the order only makes messages stable)
std::vector<std::string> folder_files(const char *dir) {
    std::vector<std::string> v;
    DIR *d = opendir(dir);
    if (!d) return v;
    while (struct dirent *de = readdir(d)) {
        if (de->d_name[0] == '.') continue;
        std::string p = std::string(dir) + "/" + de->d_name;
        struct stat st;
        if (!stat(p.c_str(), &st) && S_ISREG(st.st_mode)) v.push_back(p);
    }
    closedir(d);
    std::sort(v.begin(), v.end());
    return v;
}

// the value of pixel k of a file's pixel data (frames one after another), rescaled
template <typename T> void put_frame(const T *src, const header &h, long frame, float *dst) {
    size_t n = (size_t)h.rows * (size_t)h.cols;
    const T *s = src + n * (size_t)frame;
    const unsigned shift = 32 - (unsigned)h.stored;
    for (size_t i = 0; i < n; i++) {
        uint32_t raw = (uint32_t)s[i];
        double v;
        if (h.sign) v = (double)((int32_t)(raw << shift) >> shift); // sign-extended from BitsStored
        else v = (double)(raw & (h.stored >= 32 ? 0xffffffffu : ((1u << h.stored) - 1)));
        dst[i] = (float)(v * h.slope + h.inter);
    }
}

} // namespace

extern "C" {

void fn_dcmtk_quiet(void) { OFLog::configure(OFLogger::FATAL_LOG_LEVEL); }

int fn_dcmtk_read(const char *path, int want_pixels, fn_dcm_volume *v, fn_err *e) {
    std::memset(v, 0, sizeof *v);
    try {
        struct stat st;
        if (stat(path, &st)) return fn_seterr(e, "%s: %s", path, std::strerror(errno));
        bool folder = S_ISDIR(st.st_mode);
        std::vector<std::string> files = folder ? folder_files(path) : std::vector<std::string>{path};
        std::vector<header> hs;
        std::vector<DcmFileFormat *> ffs;
        struct cleanup {
            std::vector<DcmFileFormat *> &f;
            ~cleanup() {
                for (DcmFileFormat *p : f) delete p;
            }
        } cl{ffs};
        for (const std::string &f : files) {
            header h;
            DcmFileFormat *ff = new DcmFileFormat;
            ffs.push_back(ff);
            fn_err fe;
            if (read_header(f, *ff, h, want_pixels != 0, &fe)) {
                // in a folder, files that are not DICOM at all (a README) are passed over
                if (folder && !fn_dcm_has_magic(f.c_str()) && std::strstr(fe.msg, "not a readable DICOM")) {
                    delete ff;
                    ffs.pop_back();
                    continue;
                }
                *e = fe;
                return -1;
            }
            if (!want_pixels) {
                delete ff;
                ffs.back() = nullptr;
            }
            hs.push_back(h);
        }
        if (hs.empty()) return fn_seterr(e, "%s: no DICOM files in this folder", path);
        // one series only
        std::vector<std::string> series;
        for (const header &h : hs)
            if (std::find(series.begin(), series.end(), h.series) == series.end()) series.push_back(h.series);
        if (series.size() > 1) {
            std::string m = std::string(path) + ": " + std::to_string(series.size()) + " series in one folder (";
            for (size_t i = 0; i < series.size() && i < 4; i++) {
                size_t n = 0;
                std::string desc;
                for (const header &h : hs)
                    if (h.series == series[i]) n++, desc = h.desc;
                m += (i ? "; " : "") + (series[i].empty() ? std::string("no SeriesInstanceUID") : series[i]) +
                     (desc.empty() ? "" : " \"" + desc + "\"") + ": " + std::to_string(n) + " files";
            }
            m += series.size() > 4 ? "; ...)" : ")";
            return fail(e, m + ": give each series its own folder");
        }
        for (const header &h : hs)
            if (!same_geometry(h, hs[0]))
                return fail(e, h.path + ": its size, orientation or pixel spacing differs from " + hs[0].path);
        // every plane, ordered along the normal
        const double *o = hs[0].iop;
        double n[3] = {o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]};
        std::vector<plane> planes;
        for (size_t i = 0; i < hs.size(); i++)
            for (long f = 0; f < hs[i].frames; f++) {
                plane p{i, f, {hs[i].ipp[f][0], hs[i].ipp[f][1], hs[i].ipp[f][2]}, 0};
                p.along = p.ipp[0] * n[0] + p.ipp[1] * n[1] + p.ipp[2] * n[2];
                planes.push_back(p);
            }
        if (planes.size() > FN_MAX_HW) return fn_seterr(e, "%s: %zu slices (at most %d)", path, planes.size(), FN_MAX_HW);
        std::stable_sort(planes.begin(), planes.end(), [](const plane &a, const plane &b) { return a.along < b.along; });
        for (size_t k = 1; k < planes.size(); k++)
            if (std::fabs(planes[k].along - planes[k - 1].along) < 1e-6)
                return fail(e, hs[planes[k].file].path + ": two slices at the same position " +
                                   std::to_string(planes[k].along) + " mm (and " + hs[planes[k - 1].file].path + ")");
        // evenly spaced: a volume has one slice step (a gap is a missing file, or a tilted gantry)
        for (size_t k = 2; k < planes.size(); k++) {
            double a = planes[k - 1].along - planes[k - 2].along, b = planes[k].along - planes[k - 1].along;
            if (std::fabs(a - b) > std::max(0.01, 0.01 * std::fabs(a)))
                return fail(e, std::string(path) + ": slices not evenly spaced: " + std::to_string(a) + " mm then " +
                                   std::to_string(b) + " mm at " + hs[planes[k].file].path + " (a missing file?)");
        }
        const header &h0 = hs[0];
        v->dim[0] = h0.cols, v->dim[1] = h0.rows, v->dim[2] = (int64_t)planes.size();
        double dz = planes.size() > 1 ? (planes.back().along - planes.front().along) / (double)(planes.size() - 1)
                                      : (h0.thick > 0 ? h0.thick : 1);
        v->spacing[0] = h0.ps[1], v->spacing[1] = h0.ps[0], v->spacing[2] = dz;
        // LPS: column step ps[1] * row direction, row step ps[0] * column direction, slice step dz * normal;
        // RAS+ negates x and y
        const double *p0 = planes[0].ipp;
        for (int r = 0; r < 3; r++) {
            double s = r < 2 ? -1 : 1;
            v->affine[r][0] = s * o[r] * h0.ps[1];
            v->affine[r][1] = s * o[3 + r] * h0.ps[0];
            v->affine[r][2] = s * n[r] * dz;
            v->affine[r][3] = s * p0[r];
        }
        std::snprintf(v->modality, sizeof v->modality, "%s", h0.modality.c_str());
        if (!want_pixels) return 0;
        size_t plane_n = (size_t)h0.rows * (size_t)h0.cols;
        v->data = (float *)std::malloc(plane_n * planes.size() * sizeof(float));
        if (!v->data) return fn_seterr(e, "%s: out of memory", path);
        for (size_t k = 0; k < planes.size(); k++) {
            const header &h = hs[planes[k].file];
            DcmDataset *ds = ffs[planes[k].file]->getDataset();
            DcmElement *px = nullptr;
            OFCondition c = ds->findAndGetElement(DCM_PixelData, px);
            float *dst = v->data + plane_n * k;
            if (c.good() && h.bits == 8) {
                Uint8 *b = nullptr;
                c = px->getUint8Array(b);
                if (c.good() && b) put_frame(b, h, planes[k].frame, dst);
            } else if (c.good()) {
                Uint16 *b = nullptr;
                c = px->getUint16Array(b);
                if (c.good() && b) put_frame(b, h, planes[k].frame, dst);
            }
            if (c.bad()) {
                fn_dcm_free(v);
                return fail(e, h.path + ": cannot read its pixel data (" + c.text() + ")");
            }
        }
        return 0;
    } catch (const std::exception &x) {
        fn_dcm_free(v);
        return fn_seterr(e, "%s: %s", path, x.what());
    }
}

const fn_dicom_plugin_table fn_dicom_plugin = {FN_PLUGIN_VERSION, fn_dcmtk_read, fn_dcmtk_quiet};

} // extern "C"
