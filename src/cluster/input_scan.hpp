// The inputs of a batch: the files named on the command line, the files under its folders
// (recursively) and the lines of file lists (`--files-from FILE`, `-` for stdin), as absolute
// paths, each once, in a stable order (folders sorted by path), so that reruns meet them in the
// same order.
#pragma once

#include <cstddef>
#include <istream>
#include <set>
#include <string>
#include <vector>

#include "cluster/work_item.hpp"
#include "corun/expected.hpp"

namespace corun::cluster {

struct InputScan {
    std::vector<std::string> paths;
    // Files under the folders that no requested task takes (by extension): not inputs.
    size_t other_files = 0;
    // Folders that could not be listed (permissions), each named once in the warnings.
    std::vector<std::string> warnings;
};

// `paths`: files (taken whatever their extension; a file of the wrong kind is recorded as a bad
// input) and folders (only files whose extension is of one of `kinds`). `lists`: files holding
// one path per line ("-" reads `standard_input`); blank lines are skipped, entries are taken as
// files (one that does not exist is recorded as unreadable). NOT_FOUND for a PATH or list that
// does not exist: a mistyped argument stops the batch before it starts.
Expected<InputScan> scan_inputs(const std::vector<std::string>& paths,
                                const std::vector<std::string>& lists,
                                const std::set<InputKind>& kinds, std::istream& standard_input);

}  // namespace corun::cluster
