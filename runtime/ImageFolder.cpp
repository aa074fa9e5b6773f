// A folder of PNG/JPEG images, one sub-folder per class, decoded by runtime/ImageDecode.h.

#include "runtime/Dataset.h"
#include "runtime/Files.h"
#include "runtime/ImageDecode.h"
#include "runtime/Memory.h"

#include <algorithm>
#include <filesystem>
#include <memory>

namespace netc::runtime {

namespace {

namespace fs = std::filesystem;

const char *channel_words(int channels) {
    switch (channels) {
    case 1: return " (grayscale)";
    case 2: return " (grayscale + alpha)";
    case 3: return " (RGB)";
    case 4: return " (RGBA)";
    }
    return "";
}

/// "1 channel (grayscale)", "3 channels (RGB)".
std::string channel_count(int channels) {
    return std::to_string(channels) + (channels == 1 ? " channel" : " channels") +
           channel_words(channels);
}

bool is_image_name(const std::string &name) {
    const size_t dot = name.rfind('.');
    if (dot == std::string::npos) return false;
    std::string ext = name.substr(dot + 1);
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    return ext == "png" || ext == "jpg" || ext == "jpeg";
}

/// Sorted names of the entries of `dir` that satisfy `keep`.
Result<std::vector<std::string>> list_directory(const std::string &dir,
                                                bool (*keep)(const fs::directory_entry &)) {
    std::error_code ec;
    fs::directory_iterator it(dir, ec);
    if (ec) return Result<std::vector<std::string>>::error(dir + ": cannot list: " + ec.message());
    std::vector<std::string> names;
    for (; it != fs::directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (keep(*it)) names.push_back(it->path().filename().string());
    }
    if (ec) return Result<std::vector<std::string>>::error(dir + ": cannot list: " + ec.message());
    std::sort(names.begin(), names.end());
    return names;
}

Status check_options(const std::string &where, const ImageFolderOptions &options) {
    if (options.channels < 1 || options.channels > 4 || options.height < 1 || options.width < 1) {
        return Status::error(where + ": cannot load images as " + std::to_string(options.channels) +
                             "x" + std::to_string(options.height) + "x" +
                             std::to_string(options.width) +
                             ": expected 1 to 4 channels and a positive height and width");
    }
    return Status();
}

std::string cannot_decode(const std::string &path, const Status &why) {
    return path + ": cannot decode as PNG or JPEG: " + why.message();
}

Result<ImageShape> probe_file(const std::string &path, const std::vector<uint8_t> &bytes) {
    auto shape = probe_image(bytes.data(), bytes.size());
    if (!shape) return Result<ImageShape>::error(cannot_decode(path, shape.status()));
    return shape;
}

/// Decodes into `out` (channels, height, width).
Status decode_file(const std::string &path, const ImageFolderOptions &options, float *out) {
    if (!is_regular_file(path)) return Status::error(path + ": cannot open: no such file");
    auto bytes = read_file(path);
    if (!bytes) return bytes.status();
    auto shape = probe_file(path, bytes.value());
    if (!shape) return shape.status();
    if (shape->height != options.height || shape->width != options.width) {
        return Status::error(path + ": image is " + std::to_string(shape->height) + "x" +
                             std::to_string(shape->width) + " (height x width) but " +
                             std::to_string(options.height) + "x" + std::to_string(options.width) +
                             " is expected; images are not resized");
    }
    if (shape->channels != options.channels && !options.convert_channels) {
        return Status::error(path + ": image has " + channel_count(shape->channels) + " but " +
                             channel_count(options.channels) +
                             " are expected (channel conversion is off)");
    }
    auto decoded = decode_image(bytes->data(), bytes->size(), shape.value());
    if (!decoded) return Status::error(cannot_decode(path, decoded.status()));
    const std::vector<uint8_t> pixels =
        convert_channels(decoded.value(), shape.value(), options.channels);
    const int c_count = options.channels;
    const int64_t plane = (int64_t)options.height * options.width;
    // Decoded pixels are interleaved HWC; the data set is CHW.
    for (int c = 0; c < c_count; c++) {
        for (int64_t p = 0; p < plane; p++)
            out[c * plane + p] = (float)pixels[p * c_count + c] / 255.0f;
    }
    return Status();
}

}  // namespace

Result<std::vector<float>> read_image(const std::string &path, const ImageFolderOptions &options) {
    if (Status status = check_options(path, options); !status) return status;
    std::vector<float> image((size_t)options.channels * options.height * options.width);
    if (Status status = decode_file(path, options, image.data()); !status) return status;
    return image;
}

Result<ImageShape> read_image_shape(const std::string &path) {
    if (!is_regular_file(path))
        return Result<ImageShape>::error(path + ": cannot open: no such file");
    auto bytes = read_file(path);
    if (!bytes) return bytes.status();
    return probe_file(path, bytes.value());
}

Result<Dataset> load_image_folder(const std::string &dir, const ImageFolderOptions &options) {
    if (Status status = check_options(dir, options); !status) return status;
    if (!is_directory(dir)) return Result<Dataset>::error(dir + ": not a directory");
    auto classes = list_directory(dir, [](const fs::directory_entry &e) {
        std::error_code ec;
        return e.is_directory(ec);
    });
    if (!classes) return classes.status();
    if (classes->empty()) {
        return Result<Dataset>::error(dir + ": has no class sub-folders (expected " + dir +
                                      "/<class>/<image>.png)");
    }

    // Files that are not images, beside the class sub-folders or in them: skipped, counted.
    auto not_image = [](const fs::directory_entry &e) {
        std::error_code ec;
        return e.is_regular_file(ec) && !is_image_name(e.path().filename().string());
    };
    std::vector<std::string> skipped;
    auto beside = list_directory(dir, not_image);
    if (!beside) return beside.status();
    for (const std::string &name : beside.value()) skipped.push_back(join_path(dir, name));
    // List first, so the images can be decoded straight into one allocation.
    std::vector<std::pair<std::string, int32_t>> files;
    for (size_t label = 0; label < classes->size(); label++) {
        const std::string class_dir = join_path(dir, (*classes)[label]);
        auto names = list_directory(class_dir, [](const fs::directory_entry &e) {
            std::error_code ec;
            return e.is_regular_file(ec) && is_image_name(e.path().filename().string());
        });
        if (!names) return names.status();
        for (const std::string &name : names.value())
            files.push_back({join_path(class_dir, name), (int32_t)label});
        auto others = list_directory(class_dir, not_image);
        if (!others) return others.status();
        for (const std::string &name : others.value())
            skipped.push_back(join_path(class_dir, name));
    }
    if (files.empty()) {
        return Result<Dataset>::error(dir +
                                      ": its class sub-folders hold no .png, .jpg or .jpeg files");
    }

    Dataset data;
    data.count = (int64_t)files.size();
    data.channels = options.channels;
    data.height = options.height;
    data.width = options.width;
    data.class_names = classes.value();
    if (!skipped.empty()) {
        const size_t n = skipped.size();
        data.warnings.push_back(dir + ": skipped " + std::to_string(n) + " file" +
                                (n == 1 ? "" : "s") + " that " + (n == 1 ? "is" : "are") +
                                " not .png, .jpg or .jpeg, the first " + skipped.front());
    }
    const int64_t image_bytes = data.image_size() * (int64_t)sizeof(float);
    if (Status fits = check_memory(
            dir + ": the data set", data.count * image_bytes,
            std::to_string(data.count) + " images of " + std::to_string(options.channels) + "x" +
                std::to_string(options.height) + "x" + std::to_string(options.width) + " as floats",
            "train on fewer images (netc does not stream a data set)");
        !fits) {
        return fits;
    }
    data.images.resize((size_t)(data.count * data.image_size()));
    data.labels.resize((size_t)data.count);
    data.sources.reserve(files.size());
    for (int64_t i = 0; i < data.count; i++) {
        const auto &[path, label] = files[(size_t)i];
        if (Status status = decode_file(path, options, data.image(i)); !status) return status;
        data.labels[(size_t)i] = label;
        data.sources.push_back({path, path, i, 1, 0});
    }
    return data;
}

}  // namespace netc::runtime
